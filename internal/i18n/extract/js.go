package extract

import (
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scripts mostly show texts the page gives them in data-* attributes
// (which the templates pass through T). The literals they show themselves
// are the fallbacks and texts written into an element's text or title, or
// given to alert, confirm or a local function that writes its first
// argument into an element's text.

type jsTok struct {
	kind byte // 's' string, 'i' identifier, 'p' punctuation, 'n' number, 't' template literal, 'r' regexp
	text string
	line int
}

// displayProps are the properties whose value people read.
var displayProps = map[string]bool{"textContent": true, "innerText": true, "title": true, "placeholder": true,
	"ariaLabel": true, "alt": true, "label": true}

// displayAttrs are the attributes whose value people read.
var displayAttrs = map[string]bool{"title": true, "aria-label": true, "placeholder": true, "alt": true, "label": true}

func (c *collector) scanScript(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	toks := jsTokens(string(b))
	sayers := map[string]bool{"alert": true, "confirm": true, "prompt": true}
	for name := range displayFuncs(toks) {
		sayers[name] = true
	}
	add := func(t jsTok) {
		if t.kind != 's' {
			return
		}
		s := jsUnquote(t.text)
		if !looksLikeCode(s) && !strings.ContainsAny(s, "#[]{}<>") {
			c.add(s, c.place(file, t.line), KindJS)
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		// el.textContent = …
		case t.kind == 'i' && displayProps[t.text] && i > 0 && toks[i-1].text == "." && i+1 < len(toks) && toks[i+1].text == "=":
			for _, lit := range jsCandidates(toks, i+2, false) {
				add(lit)
			}
		// alert(…), say(…)
		case t.kind == 'i' && sayers[t.text] && i+1 < len(toks) && toks[i+1].text == "(" && (i == 0 || toks[i-1].text != "."):
			for _, lit := range jsCandidates(toks, i+2, true) {
				add(lit)
			}
		case t.kind == 'i' && sayers[t.text] && i > 1 && toks[i-1].text == "." && toks[i-2].text == "window" && i+1 < len(toks) && toks[i+1].text == "(":
			for _, lit := range jsCandidates(toks, i+2, true) {
				add(lit)
			}
		// el.setAttribute("title", …)
		case t.kind == 'i' && t.text == "setAttribute" && i+4 < len(toks) && toks[i+1].text == "(" && toks[i+2].kind == 's' &&
			displayAttrs[jsUnquote(toks[i+2].text)] && toks[i+3].text == ",":
			for _, lit := range jsCandidates(toks, i+4, true) {
				add(lit)
			}
		}
	}
	return nil
}

// jsCandidates returns the string literals of an expression starting at i
// that may be its value: the whole value, or an alternative after ||, ??,
// or a conditional's branches. One argument when arg is set (up to a comma
// or the closing parenthesis), else up to the end of the statement.
func jsCandidates(toks []jsTok, i int, arg bool) []jsTok {
	var out []jsTok
	depth := 0
	start := i
	for ; i < len(toks); i++ {
		t := toks[i]
		switch t.text {
		case "(", "[", "{":
			depth++
			continue
		case ")", "]", "}":
			if depth == 0 {
				return out
			}
			depth--
			continue
		case ",":
			if depth == 0 && arg {
				return out
			}
		case ";":
			if depth == 0 {
				return out
			}
		}
		if t.kind != 's' || depth != 0 {
			continue
		}
		if i == start {
			out = append(out, t)
			continue
		}
		switch toks[i-1].text {
		case "||", "??", "?", ":":
			out = append(out, t)
		}
	}
	return out
}

// displayFuncs finds the local functions that write their first parameter
// into an element's text: const say = (text, cls) => { el.textContent = text; … }.
func displayFuncs(toks []jsTok) map[string]bool {
	out := map[string]bool{}
	for i := 0; i+4 < len(toks); i++ {
		var name string
		j := i
		switch {
		case (toks[i].text == "const" || toks[i].text == "let" || toks[i].text == "var") && toks[i+1].kind == 'i' && toks[i+2].text == "=" && toks[i+3].text == "(":
			name, j = toks[i+1].text, i+4
		case toks[i].text == "function" && toks[i+1].kind == 'i' && toks[i+2].text == "(":
			name, j = toks[i+1].text, i+3
		default:
			continue
		}
		if toks[j].kind != 'i' {
			continue
		}
		first := toks[j].text
		for ; j < len(toks) && toks[j].text != "{"; j++ {
		}
		depth := 0
		for k := j; k < len(toks); k++ {
			switch toks[k].text {
			case "{":
				depth++
			case "}":
				depth--
			}
			if depth == 0 {
				break
			}
			if displayProps[toks[k].text] && toks[k-1].text == "." && k+2 < len(toks) && toks[k+1].text == "=" && toks[k+2].text == first &&
				(k+3 >= len(toks) || toks[k+3].text == ";" || toks[k+3].text == "}") {
				out[name] = true
			}
		}
	}
	return out
}

// jsTokens splits a script into tokens, leaving out comments and spaces.
func jsTokens(src string) []jsTok {
	var out []jsTok
	line := 1
	i := 0
	regexAllowed := func() bool {
		if len(out) == 0 {
			return true
		}
		last := out[len(out)-1]
		switch last.kind {
		case 'i':
			switch last.text {
			case "return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "yield", "await":
				return true
			}
			return false
		case 'p':
			return last.text != ")" && last.text != "]" && last.text != "}"
		}
		return false
	}
	for i < len(src) {
		ch := src[i]
		switch {
		case ch == '\n':
			line++
			i++
		case ch == ' ' || ch == '\t' || ch == '\r':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				end = len(src) - i - 2
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case ch == '"' || ch == '\'':
			j := i + 1
			for j < len(src) && src[j] != ch && src[j] != '\n' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				j = len(src) - 1
			}
			out = append(out, jsTok{'s', src[i : j+1], line})
			i = j + 1
		case ch == '`':
			start, startLine := i, line
			i = skipTemplate(src, i+1, &line)
			out = append(out, jsTok{'t', src[start:i], startLine})
		case ch == '/' && regexAllowed():
			j, inClass := i+1, false
			for j < len(src) && src[j] != '\n' {
				if src[j] == '\\' {
					j += 2
					continue
				}
				if src[j] == '[' {
					inClass = true
				} else if src[j] == ']' {
					inClass = false
				} else if src[j] == '/' && !inClass {
					break
				}
				j++
			}
			j++
			for j < len(src) && unicode.IsLetter(rune(src[j])) {
				j++
			}
			if j > len(src) {
				j = len(src)
			}
			out = append(out, jsTok{'r', src[i:j], line})
			i = j
		case ch == '_' || ch == '$' || unicode.IsLetter(rune(ch)) || ch >= utf8.RuneSelf:
			j := i
			for j < len(src) {
				r, size := utf8.DecodeRuneInString(src[j:])
				if r != '_' && r != '$' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					break
				}
				j += size
			}
			if j == i {
				j = i + 1
			}
			out = append(out, jsTok{'i', src[i:j], line})
			i = j
		case ch >= '0' && ch <= '9':
			j := i
			for j < len(src) && (src[j] == '.' || src[j] == '_' || unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			out = append(out, jsTok{'n', src[i:j], line})
			i = j
		default:
			p := string(ch)
			for _, op := range []string{"===", "!==", "...", "**=", "||", "&&", "??", "=>", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "?.", "++", "--"} {
				if strings.HasPrefix(src[i:], op) {
					p = op
					break
				}
			}
			out = append(out, jsTok{'p', p, line})
			i += len(p)
		}
	}
	return out
}

// skipTemplate skips a template literal from just after its backquote,
// with the expressions in it, and returns the index after its end.
func skipTemplate(src string, i int, line *int) int {
	for i < len(src) {
		switch src[i] {
		case '\\':
			i += 2
			continue
		case '\n':
			*line++
		case '`':
			return i + 1
		case '$':
			if i+1 < len(src) && src[i+1] == '{' {
				depth := 1
				i += 2
				for i < len(src) && depth > 0 {
					switch src[i] {
					case '{':
						depth++
					case '}':
						depth--
					case '\n':
						*line++
					case '`':
						i = skipTemplate(src, i+1, line) - 1
					case '"', '\'':
						q := src[i]
						for i++; i < len(src) && src[i] != q; i++ {
							if src[i] == '\\' {
								i++
							}
						}
					}
					i++
				}
				continue
			}
		}
		i++
	}
	return i
}

// jsUnquote reads a JavaScript string literal.
func jsUnquote(lit string) string {
	if len(lit) < 2 {
		return ""
	}
	body := lit[1 : len(lit)-1]
	if !strings.Contains(body, `\`) {
		return body
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' || i+1 == len(body) {
			b.WriteByte(body[i])
			continue
		}
		i++
		switch e := body[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'u', 'x':
			n := 4
			if e == 'x' {
				n = 2
			}
			hex := ""
			if i+1 < len(body) && body[i+1] == '{' && e == 'u' {
				if end := strings.IndexByte(body[i:], '}'); end > 0 {
					hex, i = body[i+2:i+end], i+end
				}
			} else if i+n < len(body) {
				hex, i = body[i+1:i+1+n], i+n
			}
			if r, err := strconv.ParseUint(hex, 16, 32); err == nil {
				b.WriteRune(rune(r))
			}
		default:
			b.WriteByte(e)
		}
	}
	return b.String()
}
