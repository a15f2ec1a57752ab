package names

import (
	"strings"
)

// MinScore is the lowest score that counts as a match.
const MinScore = 0.5

// Score rates how well the query matches one name, from 0 (not at all) to
// 1 (the same name, whatever the order, case, accents or script form).
func (f *Folder) Score(q Query, name string) float64 {
	if len(q.Words) == 0 {
		return 0
	}
	words := Words(f.Fold(name))
	if len(words) == 0 {
		return 0
	}
	// The words a query may meet: the name's own, and for Han words their
	// pinyin surname, given name and whole reading.
	candidates := append([]string(nil), words...)
	var latin []string
	for _, w := range words {
		if hasHan(w) {
			sur, given := reading(w)
			candidates = append(candidates, sur, given, sur+given)
			latin = append(latin, sur+given)
		} else {
			latin = append(latin, w)
		}
	}
	joinedQ := strings.Join(q.Words, "")
	if joinedQ == strings.Join(words, "") || joinedQ == strings.Join(latin, "") {
		return 1
	}
	total := 0.0
	for i, qw := range q.Words {
		last := i == len(q.Words)-1
		best := 0.0
		for _, c := range candidates {
			best = max(best, wordScore(qw, c, last))
		}
		total += best
	}
	s := total / float64(len(q.Words))
	// A query that names fewer words than the name scores a little lower
	// than one that names them all.
	if extra := len(words) - len(q.Words); extra > 0 {
		s *= 1 - 0.05*float64(min(extra, 4))
	}
	return s
}

func wordScore(q, w string, last bool) float64 {
	switch {
	case q == "" || w == "":
		return 0
	case q == w:
		return 1
	case last && len(q) >= 2 && strings.HasPrefix(w, q):
		return 0.8 // still typing
	}
	rq, rw := []rune(q), []rune(w)
	if hasHan(q) || hasHan(w) {
		if hasHan(q) && hasHan(w) && (strings.Contains(w, q) || strings.Contains(q, w)) {
			return 0.7
		}
		return 0
	}
	d := distance(rq, rw)
	n := max(len(rq), len(rw))
	switch {
	case d == 1 && n >= 4:
		return 0.75
	case d == 2 && n >= 7:
		return 0.6
	}
	if s := Sound(q); s != "" && s == Sound(w) {
		return 0.55
	}
	return 0
}

// distance is the optimal string alignment distance: insertions, deletions,
// substitutions and swaps of two neighbours each cost one.
func distance(a, b []rune) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
