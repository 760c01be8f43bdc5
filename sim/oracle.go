package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// AccuracySet is the accuracy oracle's question set: GSM8K-style JSONL, one
// {"question": …, "answer": …} per line, each answer ending with a line
// "#### <number>". A request whose last user message contains one of the
// questions (compared token by token, so whitespace may differ) is answered
// with that question's worked solution ending in "#### <number>" — the
// correct number, or, for a seeded share of questions (Config.
// AccuracyErrorRate), a wrong one. Which questions are answered wrongly
// depends only on the seed and the question's line, not on request order.
type AccuracySet struct {
	items []accItem
	k     int                // leading tokens indexed
	index map[uint64][]int32 // hash of a question's first k tokens → items
}

type accItem struct {
	question string
	words    []string
	solution string // worked solution without <<calc>> notes and the final line
	number   string // the reference final answer as written
}

var calcNote = regexp.MustCompile(`<<[^>]*>>`)

// LoadAccuracySet reads an accuracy set file.
func LoadAccuracySet(path string) (*AccuracySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("accuracy set: %w", err)
	}
	defer f.Close()
	return ParseAccuracySet(path, f)
}

// ParseAccuracySet reads JSONL from r; source names it in errors
// (SOURCE:LINE: …).
func ParseAccuracySet(source string, r io.Reader) (*AccuracySet, error) {
	a := &AccuracySet{index: map[uint64][]int32{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrInvalidAccuracySet, source, line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var rec struct {
			Question *string `json:"question"`
			Answer   *string `json:"answer"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fail("%v", err)
		}
		if rec.Question == nil || CountTokens(*rec.Question) == 0 {
			return nil, fail("question: missing or empty")
		}
		if rec.Answer == nil {
			return nil, fail("answer: missing")
		}
		i := strings.LastIndex(*rec.Answer, "####")
		if i < 0 {
			return nil, fail("answer: no final \"#### <number>\" line")
		}
		num := strings.TrimSpace((*rec.Answer)[i+4:])
		if num == "" || CountTokens(num) != 1 {
			return nil, fail("answer: final \"####\" line must hold one number, got %q", num)
		}
		sol := strings.TrimSpace(calcNote.ReplaceAllString((*rec.Answer)[:i], ""))
		a.items = append(a.items, accItem{question: *rec.Question, words: strings.Fields(*rec.Question), solution: sol, number: num})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %v", ErrInvalidAccuracySet, source, line+1, err)
	}
	if len(a.items) == 0 {
		return nil, fmt.Errorf("%w: %s: no questions", ErrInvalidAccuracySet, source)
	}
	a.k = 6
	for _, it := range a.items {
		a.k = min(a.k, len(it.words))
	}
	for i, it := range a.items {
		h := hashWords(it.words[:a.k])
		a.index[h] = append(a.index[h], int32(i))
	}
	return a, nil
}

// Len is the number of questions.
func (a *AccuracySet) Len() int { return len(a.items) }

// Question returns question i's text.
func (a *AccuracySet) Question(i int) string { return a.items[i].question }

// Answer returns question i's reference final answer (after "####").
func (a *AccuracySet) Answer(i int) string { return a.items[i].number }

func hashWords(ws []string) uint64 {
	h := uint64(fnvOffset)
	for _, w := range ws {
		for i := 0; i < len(w); i++ {
			h ^= uint64(w[i])
			h *= fnvPrime
		}
		h ^= 0xff
		h *= fnvPrime
	}
	return h
}

// match returns the question that occurs last in text, or -1.
func (a *AccuracySet) match(text string) int {
	ws := strings.Fields(text)
	for p := len(ws) - a.k; p >= 0; p-- {
		for _, i := range a.index[hashWords(ws[p:p+a.k])] {
			q := a.items[i].words
			if p+len(q) <= len(ws) && equalWords(ws[p:p+len(q)], q) {
				return int(i)
			}
		}
	}
	return -1
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// wrong reports whether question i is answered wrongly at this rate and seed.
func (a *AccuracySet) wrong(i int, seed int64, rate float64) bool {
	return unitFloat(mix(uint64(seed), 0x6f7261636c65, uint64(i))) < rate // "oracle"
}

// response is the oracle's answer text for question i.
func (a *AccuracySet) response(i int, wrong bool, seed int64) string {
	it := a.items[i]
	num := it.number
	if wrong {
		num = wrongNumber(num, mix(uint64(seed), uint64(i)))
	}
	if it.solution == "" {
		return "#### " + num
	}
	return it.solution + "\n#### " + num
}

// wrongNumber returns a number different from s.
func wrongNumber(s string, h uint64) string {
	clean := strings.ReplaceAll(s, ",", "")
	delta := int64(1 + h%9)
	if n, err := strconv.ParseInt(clean, 10, 64); err == nil {
		return strconv.FormatInt(n+delta, 10)
	}
	if f, err := strconv.ParseFloat(clean, 64); err == nil {
		return strconv.FormatFloat(f+float64(delta), 'f', -1, 64)
	}
	return s + strconv.FormatInt(delta, 10)
}
