package extract

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/template/parse"
)

// builtins are the functions every Go template has.
var builtins = []string{"and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js",
	"urlquery", "call", "eq", "ne", "lt", "le", "gt", "ge"}

// scanTemplate reads a template file: the texts given to T, and the texts
// given to the template functions that take one (field's and sel's label,
// sel's blank choice).
func (c *collector) scanTemplate(file string, funcs map[string][]int) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	src := string(b)
	stubs := map[string]any{}
	for _, name := range builtins {
		stubs[name] = true
	}
	for name := range funcs {
		stubs[name] = true
	}
	trees, err := parse.Parse(file, src, "", "", stubs)
	if err != nil {
		// A function the FuncMap literals do not name (added at run time):
		// read the file all the same.
		t := parse.New(file)
		t.Mode = parse.SkipFuncCheck
		trees = map[string]*parse.Tree{}
		if _, err2 := t.Parse(src, "", "", trees); err2 != nil {
			return fmt.Errorf("template %s: %w", file, err)
		}
	}
	w := &templateWalk{c: c, file: file, src: src, funcs: funcs, vars: map[string]string{}}
	for _, name := range sortedTrees(trees) {
		if root := trees[name].Root; root != nil {
			w.node(root)
		}
	}
	return nil
}

func sortedTrees(m map[string]*parse.Tree) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type templateWalk struct {
	c     *collector
	file  string
	src   string
	funcs map[string][]int
	vars  map[string]string // $x := "text"
}

func (w *templateWalk) line(pos parse.Pos) int {
	if int(pos) > len(w.src) {
		return 0
	}
	return 1 + strings.Count(w.src[:pos], "\n")
}

func (w *templateWalk) add(s string, pos parse.Pos) {
	w.c.add(s, w.c.place(w.file, w.line(pos)), KindTemplate)
}

func (w *templateWalk) node(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for i, child := range n.Nodes {
			w.node(child)
			w.pluralAfterNumber(n.Nodes, i)
		}
	case *parse.ActionNode:
		w.pipe(n.Pipe)
	case *parse.IfNode:
		w.branch(&n.BranchNode)
	case *parse.RangeNode:
		w.branch(&n.BranchNode)
	case *parse.WithNode:
		w.branch(&n.BranchNode)
	case *parse.TemplateNode:
		w.pipe(n.Pipe)
	}
}

func (w *templateWalk) branch(b *parse.BranchNode) {
	w.pipe(b.Pipe)
	w.node(b.List)
	if b.ElseList != nil {
		w.node(b.ElseList)
	}
}

func (w *templateWalk) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	if len(p.Decl) == 1 && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1 {
		if s, ok := p.Cmds[0].Args[0].(*parse.StringNode); ok {
			w.vars[p.Decl[0].Ident[0]] = s.Text
		}
	}
	for i, cmd := range p.Cmds {
		var prev *parse.CommandNode
		if i > 0 {
			prev = p.Cmds[i-1]
		}
		w.command(cmd, prev)
	}
}

// command reads one command: T "text" …, a function taking a label, and
// the pipelines in its arguments.
func (w *templateWalk) command(cmd *parse.CommandNode, prev *parse.CommandNode) {
	if len(cmd.Args) == 0 {
		return
	}
	if isT(cmd.Args[0]) {
		switch {
		case len(cmd.Args) > 1:
			if s, ok := w.literal(cmd.Args[1]); ok {
				w.add(s, cmd.Args[1].Position())
			}
		case prev != nil && len(prev.Args) == 1: // {{"text" | $.T}}
			if s, ok := w.literal(prev.Args[0]); ok {
				w.add(s, prev.Args[0].Position())
			}
		}
	}
	if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
		for _, i := range w.funcs[id.Ident] {
			if i+1 < len(cmd.Args) {
				if s, ok := cmd.Args[i+1].(*parse.StringNode); ok {
					w.add(s.Text, s.Position())
				}
			}
		}
	}
	for _, a := range cmd.Args {
		if p, ok := a.(*parse.PipeNode); ok {
			w.pipe(p)
		}
	}
}

// literal is the text of a string or of a variable holding one.
func (w *templateWalk) literal(n parse.Node) (string, bool) {
	switch n := n.(type) {
	case *parse.StringNode:
		return n.Text, true
	case *parse.VariableNode:
		if len(n.Ident) == 1 {
			s, ok := w.vars[n.Ident[0]]
			return s, ok
		}
	}
	return "", false
}

// isT reports whether a node names the method T: .T, $.T, .V.T, $x.T.
func isT(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.FieldNode:
		return n.Ident[len(n.Ident)-1] == "T"
	case *parse.VariableNode:
		return len(n.Ident) > 1 && n.Ident[len(n.Ident)-1] == "T"
	case *parse.ChainNode:
		return len(n.Field) > 0 && n.Field[len(n.Field)-1] == "T"
	}
	return false
}

// tText is the literal given to T by an action, if it is one.
func (w *templateWalk) tText(n parse.Node) (string, bool) {
	a, ok := n.(*parse.ActionNode)
	if !ok || a.Pipe == nil || len(a.Pipe.Cmds) != 1 || len(a.Pipe.Decl) > 0 {
		return "", false
	}
	cmd := a.Pipe.Cmds[0]
	if len(cmd.Args) == 2 && isT(cmd.Args[0]) {
		return w.literal(cmd.Args[1])
	}
	return "", false
}

// pluralAfterNumber marks "{{.Frames}} {{$.T "frames"}}": a word given to T
// right after a printed value, whose form depends on it.
func (w *templateWalk) pluralAfterNumber(nodes []parse.Node, i int) {
	if i < 2 {
		return
	}
	s, ok := w.tText(nodes[i])
	if !ok || !pluralWord(s) {
		return
	}
	sp, ok := nodes[i-1].(*parse.TextNode)
	if !ok || strings.TrimSpace(string(sp.Text)) != "" || len(sp.Text) == 0 {
		return
	}
	a, ok := nodes[i-2].(*parse.ActionNode)
	if !ok || a.Pipe == nil || len(a.Pipe.Decl) > 0 {
		return
	}
	if _, isT := w.tText(a); isT {
		return
	}
	w.c.markPlural(s)
}
