package accuracy

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/agentwatt/agentwatt/metrics"
)

// Dataset is the name of the embedded set, as rules v1's accuracy.dataset
// names it.
const Dataset = "gsm8k"

//go:embed data/gsm8k/test.jsonl
var gsm8kTest []byte

// License is the embedded data set's licence text.
//
//go:embed data/gsm8k/LICENSE
var License string

// ErrInvalid is a malformed accuracy set or a bad request for one.
var ErrInvalid = errors.New("invalid accuracy set")

// Question is one GSM8K item. ID is its 0-based line in the test split.
type Question struct {
	ID       int    `json:"id"`
	Question string `json:"question"`
	Answer   string `json:"answer"`   // the worked reference solution
	Expected string `json:"expected"` // the reference's final number
}

var loadAll = sync.OnceValues(func() ([]Question, error) { return Parse("gsm8k/test.jsonl", gsm8kTest) })

// GSM8K returns the whole embedded test split (1319 questions).
func GSM8K() ([]Question, error) {
	qs, err := loadAll()
	return append([]Question(nil), qs...), err
}

// Subset returns the first n questions of dataset: the fixed subset a
// profile's accuracy_questions names.
func Subset(dataset string, n int) ([]Question, error) {
	if dataset != Dataset {
		return nil, fmt.Errorf("%w: dataset %q (this build has %q)", ErrInvalid, dataset, Dataset)
	}
	all, err := loadAll()
	if err != nil {
		return nil, err
	}
	if n <= 0 || n > len(all) {
		return nil, fmt.Errorf("%w: %d questions asked, the set has %d", ErrInvalid, n, len(all))
	}
	return append([]Question(nil), all[:n]...), nil
}

// Parse reads GSM8K JSONL ({"question", "answer"} per line, the answer
// ending in "#### <number>"); name labels errors as NAME:LINE.
func Parse(name string, data []byte) ([]Question, error) {
	var qs []Question
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec struct {
			Question string `json:"question"`
			Answer   string `json:"answer"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrInvalid, name, line, err)
		}
		i := strings.LastIndex(rec.Answer, "####")
		if strings.TrimSpace(rec.Question) == "" || i < 0 {
			return nil, fmt.Errorf("%w: %s:%d: want a question and an answer ending in \"#### <number>\"", ErrInvalid, name, line)
		}
		exp, ok := metrics.ExtractGSM8KAnswer(rec.Answer[i:])
		if !ok {
			return nil, fmt.Errorf("%w: %s:%d: the answer's final line has no number", ErrInvalid, name, line)
		}
		qs = append(qs, Question{ID: line - 1, Question: rec.Question, Answer: rec.Answer, Expected: exp})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %v", ErrInvalid, name, line+1, err)
	}
	return qs, nil
}

// WriteSet writes qs as GSM8K JSONL to path (temporary name, then rename):
// the sim engine's oracle reads this form (agentwatt sim serve
// --accuracy-set).
func WriteSet(path string, qs []Question) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, q := range qs {
		if err := enc.Encode(struct {
			Question string `json:"question"`
			Answer   string `json:"answer"`
		}{q.Question, q.Answer}); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
