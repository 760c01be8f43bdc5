package metrics

import (
	"math/big"
	"regexp"
	"strings"
)

// GSM8K answers end with a line "#### <number>"; a model's output is scored
// by the number it gives there or, when it writes no such line, by the last
// number in its text. Numbers compare as exact rationals after removing
// thousands separators, a leading "$" and a trailing "." — "1,000", "$1000"
// and "1000.00" are the same answer.

var (
	finalAnswer = regexp.MustCompile(`####\s*([-+]?\$?\s*[0-9][0-9,]*(?:\.[0-9]+)?)`)
	anyNumber   = regexp.MustCompile(`[-+]?\$?[0-9][0-9,]*(?:\.[0-9]+)?`)
)

// ExtractGSM8KAnswer returns the number a GSM8K answer gives: the one after
// the last "####", else the last number in text. It reports false when text
// holds no number.
func ExtractGSM8KAnswer(text string) (string, bool) {
	if m := finalAnswer.FindAllStringSubmatch(text, -1); len(m) > 0 {
		return normalizeNumber(m[len(m)-1][1]), true
	}
	all := anyNumber.FindAllString(text, -1)
	if len(all) == 0 {
		return "", false
	}
	return normalizeNumber(all[len(all)-1]), true
}

// normalizeNumber strips what does not change a number's value as written.
func normalizeNumber(s string) string {
	s = strings.ReplaceAll(s, ",", "")
	s = strings.ReplaceAll(s, "$", "")
	s = strings.ReplaceAll(s, " ", "")
	s = strings.TrimPrefix(s, "+")
	return strings.TrimSuffix(s, ".")
}

// GSM8KCorrect reports whether output answers with the expected number
// (a reference answer's "#### <number>" value, or the number itself).
func GSM8KCorrect(output, expected string) bool {
	got, ok := ExtractGSM8KAnswer(output)
	if !ok {
		return false
	}
	want, ok := ExtractGSM8KAnswer(expected)
	if !ok {
		return false
	}
	return SameNumber(got, want)
}

// SameNumber compares two normalized numbers exactly ("18" and "18.0" are
// equal); strings that are not numbers compare as text.
func SameNumber(a, b string) bool {
	x, okx := new(big.Rat).SetString(normalizeNumber(a))
	y, oky := new(big.Rat).SetString(normalizeNumber(b))
	if !okx || !oky {
		return normalizeNumber(a) == normalizeNumber(b)
	}
	return x.Cmp(y) == 0
}

// AccuracyScore is the share of correct answers, 0 when there are none.
func AccuracyScore(correct, total int) float64 {
	if total <= 0 {
		return 0
	}
	return float64(correct) / float64(total)
}
