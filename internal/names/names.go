// Package names folds people's names written in any script into search keys
// and scores how well a query matches a name. "Michael Kovrig", "Kovrig
// Michael", "KOVRIG, Michael", "康明凯", "康明凱", "Kang Mingkai",
// "kāng míngkǎi", "kangmingkai" and the misspelling "Korvig" all lead to the
// same person.
//
// The keys are plain strings stored in an indexed column and looked up with
// equality and prefix ranges, so both database engines answer the same way.
// Key kinds:
//
//	f:WHOLE   the whole name folded, its words run together in order
//	o:WHOLE   the same with the words sorted, for any word order
//	t:WORD    one word (a Han name counts as one word, and so do its
//	          surname and given name in Hanyu Pinyin)
//	s:SOUND   a word's consonant sounds, first kept and the rest sorted,
//	          which survives a swapped or doubled letter and vowel changes
package names

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/longbridgeapp/opencc"
	"github.com/mozillazg/go-pinyin"
	"golang.org/x/text/unicode/norm"
)

// Folder folds names. It is safe for concurrent use.
type Folder struct {
	t2s *opencc.OpenCC
}

// NewFolder loads the traditional-to-simplified Chinese tables.
func NewFolder() (*Folder, error) {
	cc, err := opencc.New("t2s")
	if err != nil {
		return nil, fmt.Errorf("load Chinese conversion tables: %w", err)
	}
	return &Folder{t2s: cc}, nil
}

// Simplified converts traditional Han characters to simplified ones and
// leaves everything else alone.
func (f *Folder) Simplified(s string) string {
	if !hasHan(s) {
		return s
	}
	out, err := f.t2s.Convert(s)
	if err != nil {
		return s
	}
	return out
}

var special = strings.NewReplacer("ß", "ss", "ø", "o", "Ø", "o", "æ", "ae", "Æ", "ae", "œ", "oe", "Œ", "oe",
	"ł", "l", "Ł", "l", "đ", "d", "Đ", "d", "ı", "i", "þ", "th", "ð", "d")

// Fold returns s lower-cased, without accents or tone marks, with
// traditional Han characters made simplified, Cyrillic written in Latin
// letters, and every run of punctuation, digits or spaces made one space.
func (f *Folder) Fold(s string) string {
	s = f.Simplified(special.Replace(s))
	var b strings.Builder
	space := true
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue // accents, tone marks
		case unicode.Is(unicode.Han, r):
			b.WriteRune(r)
			space = false
		case unicode.IsLetter(r):
			if lat, ok := cyrillic[unicode.ToLower(r)]; ok {
				b.WriteString(lat)
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
			space = false
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	return strings.TrimSpace(b.String())
}

// cyrillic transliterates Russian and Ukrainian letters (BGN/PCGN, simplified).
var cyrillic = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'ґ': "g", 'д': "d", 'е': "e", 'ё': "e", 'є': "ye", 'ж': "zh", 'з': "z",
	'и': "i", 'і': "i", 'ї': "yi", 'й': "y", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p", 'р': "r",
	'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "",
	'ы': "y", 'ь': "", 'э': "e", 'ю': "yu", 'я': "ya",
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// Words splits a folded name into words. Runs of Han characters are split
// from Latin letters; a Han run is one word, as Chinese names have no spaces.
func Words(folded string) []string {
	var out []string
	for _, w := range strings.Fields(folded) {
		var cur []rune
		han := false
		for _, r := range w {
			h := unicode.Is(unicode.Han, r)
			if len(cur) > 0 && h != han {
				out = append(out, string(cur))
				cur = cur[:0]
			}
			cur, han = append(cur, r), h
		}
		if len(cur) > 0 {
			out = append(out, string(cur))
		}
	}
	return out
}

// reading is the Hanyu Pinyin of a Han word as a surname (its first
// character) and a given name (the rest), without tones: 康明凯 is "kang"
// and "mingkai". A character without a reading is left out.
func reading(hanWord string) (surname, given string) {
	var syll []string
	for _, r := range hanWord {
		p := pinyin.LazyPinyin(string(r), pinyin.NewArgs())
		if len(p) > 0 {
			syll = append(syll, p[0])
		}
	}
	if len(syll) == 0 {
		return "", ""
	}
	return syll[0], strings.Join(syll[1:], "")
}

// Sound is a word's consonant skeleton: letters that sound alike merged,
// vowels and repeats dropped, the first sound kept in place and the others
// sorted ("kovrig" and "korvig" both give "k|fkr"). Words shorter than four
// letters, and Han words, have none.
func Sound(word string) string {
	if len([]rune(word)) < 4 || hasHan(word) {
		return ""
	}
	var first byte
	var rest []byte
	var prev byte
	for i, r := range word {
		c := soundClass(r)
		if i == 0 {
			first = c
			if c == 0 {
				first = byte(r) // a leading vowel counts
			}
			prev = c
			continue
		}
		if c == 0 || c == prev {
			prev = c
			continue
		}
		rest = append(rest, c)
		prev = c
	}
	if first == 0 {
		return ""
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i] < rest[j] })
	return string(first) + "|" + string(rest)
}

func soundClass(r rune) byte {
	switch r {
	case 'b', 'p':
		return 'p'
	case 'c', 'k', 'q', 'g':
		return 'k'
	case 'd', 't':
		return 't'
	case 'f', 'v', 'w':
		return 'f'
	case 's', 'z', 'x':
		return 's'
	case 'j':
		return 'j'
	case 'l':
		return 'l'
	case 'm':
		return 'm'
	case 'n':
		return 'n'
	case 'r':
		return 'r'
	}
	return 0 // vowels, h, y and anything else
}

// Keys returns the search keys of one name variant, without duplicates.
func (f *Folder) Keys(name string) []string {
	words := Words(f.Fold(name))
	seen := map[string]bool{}
	var keys []string
	add := func(k string) {
		if !seen[k] && len(k) > 2 {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	addWord := func(w string) {
		add("t:" + w)
		if s := Sound(w); s != "" {
			add("s:" + s)
		}
	}
	if len(words) == 0 {
		return nil
	}
	add("f:" + strings.Join(words, ""))
	var latin []string // the name in Latin letters, Han words read in pinyin
	for _, w := range words {
		addWord(w)
		if hasHan(w) {
			sur, given := reading(w)
			if sur == "" {
				continue
			}
			addWord(sur)
			if given != "" {
				addWord(given)
				add("f:" + given + sur) // Western order: "Mingkai Kang"
			}
			latin = append(latin, sur+given)
		} else {
			latin = append(latin, w)
		}
	}
	add("f:" + strings.Join(latin, ""))
	if len(latin) > 1 {
		sorted := slices.Clone(latin)
		sort.Strings(sorted)
		add("o:" + strings.Join(sorted, "")) // any word order: "Kovrig Michael"
	}
	return keys
}

// Query is a search, folded once.
type Query struct {
	Folded string
	Words  []string
	// Whole are the keys of the whole name (f:, o:), looked up first.
	Whole []string
	// Exact are the keys of single words, looked up next.
	Exact []string
	// Fuzzy are looked up when Exact finds too few people: sound keys.
	Fuzzy []string
	// Prefix is a key whose extensions also match (the last word, being
	// typed), looked up with Fuzzy.
	Prefix string
}

// ParseQuery folds a search box's text into keys. A query in Han
// characters looks only for those characters and their whole reading (the
// readings of single syllables are shared by too many people to narrow a
// search); a query in letters looks for its words and whole form first
// (Exact), and for sounds and the word being typed second (Fuzzy, Prefix).
func (f *Folder) ParseQuery(q string) Query {
	folded := f.Fold(q)
	qq := Query{Folded: folded, Words: Words(folded)}
	han := hasHan(folded)
	for _, k := range f.Keys(q) {
		switch {
		case strings.HasPrefix(k, "s:"):
			if !han {
				qq.Fuzzy = append(qq.Fuzzy, k)
			}
		case han && strings.HasPrefix(k, "t:") && !hasHan(k):
			// a syllable's reading: too common
		case strings.HasPrefix(k, "f:") || strings.HasPrefix(k, "o:"):
			qq.Whole = append(qq.Whole, k)
		default:
			qq.Exact = append(qq.Exact, k)
		}
	}
	if n := len(qq.Words); n > 0 && len([]rune(qq.Words[n-1])) >= 2 && !han {
		qq.Prefix = "t:" + qq.Words[n-1]
	}
	return qq
}

// PrefixEnd returns the smallest valid UTF-8 string greater, byte by byte,
// than every string that starts with prefix, for the range
// prefix <= key < PrefixEnd(prefix). (UTF-8 orders as its code points, so
// the next code point of the last character serves.)
func PrefixEnd(prefix string) string {
	r := []rune(prefix)
	for i := len(r) - 1; i >= 0; i-- {
		next := r[i] + 1
		if next >= 0xD800 && next <= 0xDFFF {
			next = 0xE000
		}
		if next <= unicode.MaxRune {
			r[i] = next
			return string(r[:i+1])
		}
	}
	return prefix + string(unicode.MaxRune)
}

// Misleading reports whether text holds what can make it read as something
// else without being seen: a control character (but tab and line breaks)
// or a bidirectional embedding, override or isolate (U+202A–U+202E,
// U+2066–U+2069), which can turn a name or a reference around on screen.
// The marks that only set a direction (U+200E, U+200F, U+061C) are not:
// right-to-left names need them.
func Misleading(s string) bool { return strings.ContainsFunc(s, misleading) }

func misleading(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20 || r >= 0x7f && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
