package extract

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/build"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// goPkg is one package of the repository.
type goPkg struct {
	path  string // import path
	name  string
	files []*ast.File
	names map[*ast.File]string // file → its path on disk
	types *types.Package
	info  *types.Info
}

// funcKey is a function: a *types.Func (declared) or an *ast.FuncLit.
type funcKey any

type funcRef struct {
	pkg  *goPkg
	decl *ast.FuncDecl // nil for a literal
	lit  *ast.FuncLit  // nil for a declaration
}

func (f funcRef) typ() *ast.FuncType {
	if f.decl != nil {
		return f.decl.Type
	}
	return f.lit.Type
}

func (f funcRef) body() *ast.BlockStmt {
	if f.decl != nil {
		return f.decl.Body
	}
	return f.lit.Body
}

// param is a function's parameter.
type param struct {
	fn       funcKey
	index    int
	variadic bool
}

// assign is a value given to a variable.
type assign struct {
	pkg   *goPkg
	pos   token.Pos
	rhs   ast.Expr
	index int         // the result of a call giving several, or -1
	op    token.Token // token.DEFINE, ASSIGN, ADD_ASSIGN or RANGE
}

type callSite struct {
	pkg  *goPkg
	call *ast.CallExpr
}

type sinkKey struct {
	fn    funcKey
	index int
}

// fieldRule says which fields of a struct type carry texts, and of what kind.
type fieldRule struct {
	kind   string
	fields map[string]bool // the fields whose values are texts; others are searched for T only
}

// goScan reads the Go code of the repository.
type goScan struct {
	c      *collector
	fset   *token.FileSet
	module string
	pkgs   map[string]*goPkg
	state  map[string]int // 1 checking, 2 checked

	funcs    map[funcKey]funcRef
	closures map[*types.Var]*ast.FuncLit
	params   map[*types.Var]param
	assigns  map[*types.Var][]assign
	writes   map[*types.Var][]*ast.CallExpr // writes to a strings.Builder or bytes.Buffer
	calls    map[funcKey][]callSite

	sinks     map[sinkKey]map[string]bool
	queue     []sinkKey
	resolving map[funcKey]bool
	returning int // depth of return values being resolved
	visiting  map[*types.Var]bool
	errSeen   map[string]bool

	templateFuncs map[string][]int // template function → the indexes of its text parameters
}

// textParams are the parameter names of template functions that take a
// text for people (field's and sel's label, sel's blank choice).
var textParams = map[string]bool{"label": true, "blank": true, "title": true, "text": true, "msg": true, "message": true,
	"hint": true, "help": true, "caption": true, "legend": true, "placeholder": true}

// scanGo reads the Go packages and returns the template functions found
// in template.FuncMap literals.
func (c *collector) scanGo(dirs map[string][]string) (map[string][]int, error) {
	s := &goScan{c: c, fset: token.NewFileSet(), pkgs: map[string]*goPkg{}, state: map[string]int{},
		funcs: map[funcKey]funcRef{}, closures: map[*types.Var]*ast.FuncLit{}, params: map[*types.Var]param{},
		assigns: map[*types.Var][]assign{}, writes: map[*types.Var][]*ast.CallExpr{}, calls: map[funcKey][]callSite{},
		sinks: map[sinkKey]map[string]bool{}, resolving: map[funcKey]bool{}, visiting: map[*types.Var]bool{},
		errSeen: map[string]bool{}, templateFuncs: map[string][]int{}}
	mod, err := modulePath(c.root)
	if err != nil {
		return nil, err
	}
	s.module = mod
	if err := s.parse(dirs); err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(s.pkgs))
	for p := range s.pkgs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		s.check(p)
	}
	for _, p := range paths {
		s.index(s.pkgs[p])
	}
	s.seed()
	for _, p := range paths {
		s.walk(s.pkgs[p])
	}
	s.drain()
	return s.templateFuncs, nil
}

// modulePath reads the module line of root/go.mod.
func modulePath(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("%w: %v", errNoModule, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", errNoModule
}

// parse reads the files of each directory that the build would compile.
func (s *goScan) parse(dirs map[string][]string) error {
	ctxt := build.Default
	for dir, files := range dirs {
		rel, err := filepath.Rel(s.c.root, dir)
		if err != nil {
			return err
		}
		p := &goPkg{path: s.module, names: map[*ast.File]string{}}
		if rel != "." {
			p.path = s.module + "/" + filepath.ToSlash(rel)
		}
		sort.Strings(files)
		byName := map[string][]*ast.File{}
		for _, name := range files {
			if ok, err := ctxt.MatchFile(dir, filepath.Base(name)); err != nil || !ok {
				continue
			}
			f, err := parser.ParseFile(s.fset, name, nil, parser.SkipObjectResolution)
			if err != nil {
				return fmt.Errorf("parse %s: %w", name, err)
			}
			byName[f.Name.Name] = append(byName[f.Name.Name], f)
			p.names[f] = name
		}
		for name, fs := range byName { // a directory has one package; keep the largest if not
			if len(fs) > len(p.files) {
				p.name, p.files = name, fs
			}
		}
		if len(p.files) > 0 {
			s.pkgs[p.path] = p
		}
	}
	return nil
}

// Import type-checks the repository's packages from source; others are
// left unresolved.
func (s *goScan) Import(path string) (*types.Package, error) {
	if _, ok := s.pkgs[path]; ok {
		if t := s.check(path); t != nil {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%s is outside the repository", path)
}

func (s *goScan) check(path string) *types.Package {
	p := s.pkgs[path]
	switch s.state[path] {
	case 1:
		return nil // an import cycle: the build would refuse it
	case 2:
		return p.types
	}
	s.state[path] = 1
	p.info = &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{},
		Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	conf := types.Config{Importer: s, Error: func(error) {}, FakeImportC: true}
	p.types, _ = conf.Check(path, s.fset, p.files, p.info)
	s.state[path] = 2
	return p.types
}

// index records the functions, parameters, assignments and calls of a
// package.
func (s *goScan) index(p *goPkg) {
	for _, f := range p.files {
		var visit func(n ast.Node) bool
		visit = func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				fn, _ := p.info.Defs[n.Name].(*types.Func)
				if fn == nil {
					return false
				}
				s.funcs[fn] = funcRef{pkg: p, decl: n}
				s.indexParams(p, fn, n.Type)
				if n.Body != nil {
					ast.Inspect(n.Body, visit)
				}
				return false
			case *ast.FuncLit:
				s.funcs[n] = funcRef{pkg: p, lit: n}
				s.indexParams(p, n, n.Type)
				ast.Inspect(n.Body, visit)
				return false
			case *ast.AssignStmt:
				s.indexAssign(p, n)
			case *ast.ValueSpec:
				for i, name := range n.Names {
					v, _ := p.info.Defs[name].(*types.Var)
					if v == nil {
						continue
					}
					if len(n.Values) == len(n.Names) {
						s.assigns[v] = append(s.assigns[v], assign{pkg: p, pos: name.Pos(), rhs: n.Values[i], index: -1, op: token.DEFINE})
						if lit, ok := unparen(n.Values[i]).(*ast.FuncLit); ok {
							s.closures[v] = lit
						}
					} else if len(n.Values) == 1 {
						s.assigns[v] = append(s.assigns[v], assign{pkg: p, pos: name.Pos(), rhs: n.Values[0], index: i, op: token.DEFINE})
					}
				}
			case *ast.RangeStmt:
				if id, ok := n.Value.(*ast.Ident); ok {
					if v := varOf(p, id); v != nil {
						s.assigns[v] = append(s.assigns[v], assign{pkg: p, pos: id.Pos(), rhs: n.X, index: -1, op: token.RANGE})
					}
				}
			case *ast.CallExpr:
				if fn := s.callee(p, n); fn != nil {
					s.calls[fn] = append(s.calls[fn], callSite{pkg: p, call: n})
				}
				s.indexWrite(p, n)
			}
			return true
		}
		ast.Inspect(f, visit)
	}
}

func (s *goScan) indexParams(p *goPkg, fn funcKey, ft *ast.FuncType) {
	if ft.Params == nil {
		return
	}
	i := 0
	for _, field := range ft.Params.List {
		_, variadic := field.Type.(*ast.Ellipsis)
		if len(field.Names) == 0 {
			i++
			continue
		}
		for _, name := range field.Names {
			if v, ok := p.info.Defs[name].(*types.Var); ok {
				s.params[v] = param{fn: fn, index: i, variadic: variadic}
			}
			i++
		}
	}
}

func (s *goScan) indexAssign(p *goPkg, n *ast.AssignStmt) {
	for i, lhs := range n.Lhs {
		id, ok := lhs.(*ast.Ident)
		if !ok {
			continue
		}
		v := varOf(p, id)
		if v == nil {
			continue
		}
		a := assign{pkg: p, pos: n.Pos(), index: -1, op: n.Tok}
		switch {
		case len(n.Rhs) == len(n.Lhs):
			a.rhs = n.Rhs[i]
			if lit, ok := unparen(n.Rhs[i]).(*ast.FuncLit); ok {
				s.closures[v] = lit
			}
		case len(n.Rhs) == 1:
			a.rhs, a.index = n.Rhs[0], i
		default:
			continue
		}
		s.assigns[v] = append(s.assigns[v], a)
	}
}

// indexWrite records fmt.Fprintf(&b, …) and b.WriteString(…) on a local
// strings.Builder or bytes.Buffer b.
func (s *goScan) indexWrite(p *goPkg, call *ast.CallExpr) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return
	}
	if pkg := pkgOf(p, sel.X); pkg == "fmt" && strings.HasPrefix(sel.Sel.Name, "Fprint") && len(call.Args) > 1 {
		if u, ok := call.Args[0].(*ast.UnaryExpr); ok && u.Op == token.AND {
			if id, ok := u.X.(*ast.Ident); ok {
				if v := varOf(p, id); v != nil {
					s.writes[v] = append(s.writes[v], call)
				}
			}
		}
		return
	}
	if sel.Sel.Name == "WriteString" && len(call.Args) == 1 {
		if id, ok := sel.X.(*ast.Ident); ok {
			if v := varOf(p, id); v != nil {
				s.writes[v] = append(s.writes[v], call)
			}
		}
	}
}

// callee is the function a call calls, when it is known.
func (s *goScan) callee(p *goPkg, call *ast.CallExpr) funcKey {
	switch fun := unparen(call.Fun).(type) {
	case *ast.Ident:
		switch o := p.info.Uses[fun].(type) {
		case *types.Func:
			return o.Origin()
		case *types.Var:
			if lit := s.closures[o]; lit != nil {
				return lit
			}
		}
	case *ast.SelectorExpr:
		if sel := p.info.Selections[fun]; sel != nil {
			if fn, ok := sel.Obj().(*types.Func); ok {
				return fn.Origin()
			}
			return nil
		}
		if fn, ok := p.info.Uses[fun.Sel].(*types.Func); ok {
			return fn.Origin()
		}
	case *ast.FuncLit:
		return fun
	case *ast.IndexExpr: // a generic function instantiated
		if id, ok := fun.X.(*ast.Ident); ok {
			if fn, ok := p.info.Uses[id].(*types.Func); ok {
				return fn.Origin()
			}
		}
	}
	return nil
}

func varOf(p *goPkg, id *ast.Ident) *types.Var {
	if v, ok := p.info.Defs[id].(*types.Var); ok {
		return v
	}
	v, _ := p.info.Uses[id].(*types.Var)
	return v
}

// pkgOf returns the import path of a package name, or "".
func pkgOf(p *goPkg, x ast.Expr) string {
	if id, ok := x.(*ast.Ident); ok {
		if pn, ok := p.info.Uses[id].(*types.PkgName); ok {
			return pn.Imported().Path()
		}
	}
	return ""
}

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

// seed marks the parameters through which texts reach people: the
// problem constructors, T, the page title, the CSV header.
func (s *goScan) seed() {
	for key, ref := range s.funcs {
		fn, ok := key.(*types.Func)
		if !ok || ref.decl == nil {
			continue
		}
		pkg := ref.pkg.name
		recv := recvName(fn)
		names := paramNames(ref.decl.Type)
		at := func(name string) int { return slices.Index(names, name) }
		switch {
		case pkg == "problem" && recv == "" && fn.Name() == "New" && at("format") >= 0:
			s.sink(fn, at("format"), KindProblem)
		case pkg == "problem" && recv == "" && fn.Name() == "Field" && at("message") >= 0:
			s.sink(fn, at("message"), KindProblem)
		case pkg == "problem" && recv == "Fields" && fn.Name() == "Add" && at("message") >= 0:
			s.sink(fn, at("message"), KindProblem)
		case pkg == "problem" && recv == "" && (fn.Name() == "Textf" || fn.Name() == "Fieldf") && at("format") >= 0:
			s.sink(fn, at("format"), KindProblem)
		case pkg == "problem" && recv == "Fields" && fn.Name() == "Addf" && at("format") >= 0:
			s.sink(fn, at("format"), KindProblem)
		case fn.Name() == "T" && at("msg") >= 0:
			s.sink(fn, at("msg"), KindT)
		case recv != "" && fn.Name() == "view" && at("title") >= 0:
			s.sink(fn, at("title"), KindTitle)
		case pkg == "export" && fn.Name() == "WriteCSV" && at("header") >= 0:
			s.sink(fn, at("header"), KindCSV)
		case pkg == "cases" && fn.Name() == "RecordEvent":
			for _, name := range []string{"title", "body"} {
				if at(name) >= 0 {
					s.sink(fn, at(name), KindRecord)
				}
			}
		}
	}
}

func paramNames(ft *ast.FuncType) []string {
	var out []string
	if ft.Params == nil {
		return nil
	}
	for _, f := range ft.Params.List {
		if len(f.Names) == 0 {
			out = append(out, "")
		}
		for _, n := range f.Names {
			out = append(out, n.Name)
		}
	}
	return out
}

// recvName is the name of a method's receiver type, or "".
func recvName(fn *types.Func) string {
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil {
		return ""
	}
	t := sig.Recv().Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := t.(*types.Named); ok {
		return n.Obj().Name()
	}
	return ""
}

// sink records that a parameter carries texts of a kind; its callers'
// arguments are then read.
func (s *goScan) sink(fn funcKey, index int, kind string) {
	k := sinkKey{fn, index}
	ks := s.sinks[k]
	if ks == nil {
		ks = map[string]bool{}
		s.sinks[k] = ks
	}
	if ks[kind] {
		return
	}
	ks[kind] = true
	s.queue = append(s.queue, k)
}

func (s *goScan) drain() {
	for len(s.queue) > 0 {
		k := s.queue[0]
		s.queue = s.queue[1:]
		kinds := sortedKeys(s.sinks[k])
		formatted := s.formatParam(k)
		for _, site := range s.calls[k.fn] {
			args := site.call.Args
			if k.index >= len(args) || (site.call.Ellipsis.IsValid() && k.index == len(args)-1) {
				continue
			}
			for _, t := range s.resolve(site.pkg, args[k.index], kinds, 0) {
				s.emit(t, kinds)
				if formatted && !site.call.Ellipsis.IsValid() {
					s.fmtArgs(site.pkg, t.render(), args[k.index+1:], kinds, 0)
				}
			}
		}
	}
}

// formatParam reports whether a sink parameter is a format followed by its
// arguments (format string, args ...any), as problem.New's and T's are.
func (s *goScan) formatParam(k sinkKey) bool {
	ref, ok := s.funcs[k.fn]
	if !ok || ref.typ().Params == nil {
		return false
	}
	list := ref.typ().Params.List
	last := list[len(list)-1]
	_, variadic := last.Type.(*ast.Ellipsis)
	return variadic && len(paramNames(ref.typ())) == k.index+2
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The struct types whose fields are texts, by package name and type name.
var structRules = map[string]fieldRule{
	"problem.Error":   {KindProblem, set("Message", "Fields")},
	"notify.Mail":     {KindMail, set("Subject", "Text")},
	"notify.Invite":   {KindICal, set("Summary", "Description", "Location")},
	"notify.KindInfo": {KindNotice, set("Label")},
	"export.Doc":      {KindPDF, set("Title", "Subtitle", "Classification")},
	"export.Labels":   {KindPDF, set("Page", "Generated")},
	"export.Section":  {KindPDF, set("Heading", "Paragraphs")},
	"export.Field":    {KindPDF, set("Key")},
	"export.Table":    {KindPDF, set("Header")},
	"cases.Term":      {KindVocab, set("Label")},
	"family.Decision": {KindRefusal, set("Reason")},
	"*.Warning":       {KindWarning, set("Message")},
	"web.navItem":     {KindNav, set("Label")},
	"web.view":        {KindTitle, set("Title")},
	"web.form":        {KindForm, set("Error", "Errors")},
	"cases.Link":      {KindPlaceholder, set("OtherLabel", "Relation")},
}

// labelRule is the rule of the other struct types with a Label field (the
// sign-in button's label of the single sign-on configuration, …).
var labelRule = fieldRule{KindLabel, set("Label")}

// mapRules are map types whose values are texts.
var mapRules = map[string]string{"problem.Fields": KindProblem}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// ruleOf finds the rule of a struct type.
func ruleOf(t types.Type) (fieldRule, *types.Struct, bool) {
	if t == nil {
		return fieldRule{}, nil, false
	}
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	switch t := t.(type) {
	case *types.Named:
		st, ok := t.Underlying().(*types.Struct)
		if !ok || t.Obj().Pkg() == nil {
			return fieldRule{}, nil, false
		}
		if r, ok := structRules[t.Obj().Pkg().Name()+"."+t.Obj().Name()]; ok {
			return r, st, true
		}
		if r, ok := structRules["*."+t.Obj().Name()]; ok {
			return r, st, true
		}
		for i := 0; i < st.NumFields(); i++ {
			if f := st.Field(i); f.Name() == "Label" && isString(f.Type()) {
				return labelRule, st, true
			}
		}
	case *types.Struct: // an anonymous menu item: {label, href string}
		var label, href bool
		for i := 0; i < t.NumFields(); i++ {
			switch strings.ToLower(t.Field(i).Name()) {
			case "label":
				label = true
			case "href":
				href = true
			}
		}
		if label && href {
			return fieldRule{KindNav, set("label", "Label")}, t, true
		}
	}
	return fieldRule{}, nil, false
}

// packageVarKind is the kind of a package-level table found by its name:
// flashes (key → text), role names, other labels.
func packageVarKind(name string) string {
	l := strings.ToLower(name)
	switch {
	case strings.HasSuffix(l, "flashes"):
		return KindFlash
	case strings.HasSuffix(l, "rolenames"):
		return KindRole
	case strings.HasSuffix(l, "labels"):
		return KindLabel
	}
	return ""
}

// walk finds the texts a package writes into the struct fields, tables and
// assignments that reach people, and its template functions.
func (s *goScan) walk(p *goPkg) {
	for _, f := range p.files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if kind := packageVarKind(name.Name); kind != "" && i < len(vs.Values) {
						if cl, ok := unparen(vs.Values[i]).(*ast.CompositeLit); ok {
							if _, isMap := typeOf(p, cl).(*types.Map); isMap || isMapType(cl.Type) {
								s.emitAll(p, cl, []string{kind})
							}
						}
					}
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				s.compositeLit(p, n)
			case *ast.AssignStmt:
				s.assignStmt(p, n)
			}
			return true
		})
	}
}

func isString(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Kind() == types.String
}

func typeOf(p *goPkg, e ast.Expr) types.Type {
	if tv, ok := p.info.Types[e]; ok && tv.Type != nil {
		return tv.Type.Underlying()
	}
	return nil
}

func isMapType(e ast.Expr) bool {
	_, ok := e.(*ast.MapType)
	return ok
}

func (s *goScan) compositeLit(p *goPkg, cl *ast.CompositeLit) {
	tv, ok := p.info.Types[cl]
	if !ok {
		return
	}
	t := tv.Type
	if isFuncMap(p, cl) {
		s.funcMap(p, cl)
		return
	}
	if n, ok := t.(*types.Named); ok && n.Obj().Pkg() != nil {
		if kind, ok := mapRules[n.Obj().Pkg().Name()+"."+n.Obj().Name()]; ok {
			s.emitAll(p, cl, []string{kind})
			return
		}
	}
	if m, ok := t.Underlying().(*types.Map); ok && isString(m.Key()) {
		// A JSON error written by hand: {"code": …, "message": "…"}.
		for _, e := range cl.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if k, ok := stringConst(p, kv.Key); ok && k == "message" {
					s.emitAll(p, kv.Value, []string{KindAPI})
				}
			}
		}
	}
	rule, st, ok := ruleOf(t)
	if !ok {
		return
	}
	for i, e := range cl.Elts {
		name, value := "", e
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok {
				name = id.Name
			}
			value = kv.Value
		} else if i < st.NumFields() {
			name = st.Field(i).Name()
		}
		if rule.fields[name] {
			s.emitAll(p, value, []string{rule.kind})
		} else {
			s.findT(p, value, []string{rule.kind})
		}
	}
}

// assignStmt reads x.Field = text for the fields of the rules, and
// x.Errors[k] = text for a form's errors.
func (s *goScan) assignStmt(p *goPkg, n *ast.AssignStmt) {
	if len(n.Lhs) != len(n.Rhs) || (n.Tok != token.ASSIGN && n.Tok != token.ADD_ASSIGN) {
		return
	}
	for i, lhs := range n.Lhs {
		if ix, ok := lhs.(*ast.IndexExpr); ok {
			lhs = ix.X // Errors[k] = …
		}
		sel, ok := lhs.(*ast.SelectorExpr)
		if !ok {
			continue
		}
		selection := p.info.Selections[sel]
		if selection == nil || selection.Kind() != types.FieldVal {
			continue
		}
		rule, _, ok := ruleOf(selection.Recv())
		if !ok {
			continue
		}
		if rule.fields[sel.Sel.Name] {
			s.emitAll(p, n.Rhs[i], []string{rule.kind})
		} else {
			s.findT(p, n.Rhs[i], []string{rule.kind})
		}
	}
}

// isFuncMap reports whether a literal is a template.FuncMap.
func isFuncMap(p *goPkg, cl *ast.CompositeLit) bool {
	sel, ok := cl.Type.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "FuncMap" {
		return false
	}
	path := pkgOf(p, sel.X)
	return path == "html/template" || path == "text/template"
}

// funcMap records the template functions and which of their parameters
// take a text.
func (s *goScan) funcMap(p *goPkg, cl *ast.CompositeLit) {
	for _, e := range cl.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		name, ok := stringConst(p, kv.Key)
		if !ok {
			continue
		}
		idx := []int{}
		if lit, ok := kv.Value.(*ast.FuncLit); ok {
			for i, n := range paramNames(lit.Type) {
				if textParams[n] {
					idx = append(idx, i)
				}
			}
		}
		s.templateFuncs[name] = idx
	}
}

func stringConst(p *goPkg, e ast.Expr) (string, bool) {
	if tv, ok := p.info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.String {
		return constant.StringVal(tv.Value), true
	}
	if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
		v, err := strconv.Unquote(lit.Value)
		return v, err == nil
	}
	return "", false
}

// A text is a sequence of segments: literal text, a fmt format, or a value
// not known here.
type segKind int

const (
	segLit segKind = iota
	segFormat
	segHole
	segIntHole
)

type seg struct {
	kind segKind
	s    string
	pos  token.Pos
}

type text []seg

var hole = text{{kind: segHole}}

// render writes a text as its catalog key: literal text alone as it is; a
// text with values as a fmt format, unknown values as %s.
func (t text) render() string {
	format := false
	for _, sg := range t {
		if sg.kind != segLit {
			format = true
		}
	}
	var b strings.Builder
	for _, sg := range t {
		switch sg.kind {
		case segLit:
			if format {
				b.WriteString(strings.ReplaceAll(sg.s, "%", "%%"))
			} else {
				b.WriteString(sg.s)
			}
		case segFormat:
			b.WriteString(sg.s)
		case segHole:
			b.WriteString("%s")
		case segIntHole:
			b.WriteString("%d")
		}
	}
	return b.String()
}

func (t text) pos() token.Pos {
	for _, sg := range t {
		if sg.pos.IsValid() {
			return sg.pos
		}
	}
	return token.NoPos
}

func lit(s string, pos token.Pos) []text { return []text{{{kind: segLit, s: s, pos: pos}}} }

// explicit reports whether texts of these kinds are given to T by name, so
// that they are keys whatever they look like.
func explicit(kinds []string) bool {
	for _, k := range kinds {
		if k == KindT {
			return true
		}
	}
	return false
}

// emitAll resolves an expression and records each text it may be.
func (s *goScan) emitAll(p *goPkg, e ast.Expr, kinds []string) {
	for _, t := range s.resolve(p, e, kinds, 0) {
		s.emit(t, kinds)
	}
}

func (s *goScan) emit(t text, kinds []string) {
	pos := t.pos()
	if !pos.IsValid() {
		return
	}
	position := s.fset.Position(pos)
	place := s.c.place(position.Filename, position.Line)
	if explicit(kinds) {
		s.c.add(t.render(), place, kinds...)
	} else {
		s.c.addInferred(t.render(), place, kinds...)
	}
}

const maxDepth = 12
const maxTexts = 64

func with(kinds []string, more ...string) []string {
	out := append([]string(nil), kinds...)
	for _, k := range more {
		if slices.Index(out, k) < 0 {
			out = append(out, k)
		}
	}
	return out
}

// resolve finds the texts an expression may be. A value it cannot know is
// a hole. Texts met on the way that reach people on their own (the
// arguments of a format, T's message, the lines written to a builder) are
// recorded as they are found.
func (s *goScan) resolve(p *goPkg, e ast.Expr, kinds []string, depth int) []text {
	if depth > maxDepth || e == nil {
		return []text{hole}
	}
	if v, ok := stringConst(p, e); ok {
		pos := e.Pos()
		if id := identOf(e); id != nil {
			if c, ok := p.info.Uses[id].(*types.Const); ok && c.Pos().IsValid() {
				pos = c.Pos() // where the constant is written
			}
		}
		return lit(v, pos)
	}
	switch e := e.(type) {
	case *ast.ParenExpr:
		return s.resolve(p, e.X, kinds, depth+1)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return []text{hole}
		}
		return concat(s.operand(p, e.X, kinds, depth), s.operand(p, e.Y, kinds, depth))
	case *ast.CallExpr:
		return s.resolveCall(p, e, kinds, depth, -1)
	case *ast.Ident:
		return s.resolveVar(varOf(p, e), kinds, depth)
	case *ast.SelectorExpr:
		if v, ok := p.info.Uses[e.Sel].(*types.Var); ok && !v.IsField() {
			return s.resolveVar(v, kinds, depth) // a package's variable
		}
		return []text{hole}
	case *ast.IndexExpr:
		return s.elements(p, e.X, kinds, depth)
	case *ast.SliceExpr:
		return s.resolve(p, e.X, kinds, depth+1)
	case *ast.CompositeLit:
		switch typeOf(p, e).(type) {
		case *types.Slice, *types.Array, *types.Map:
			return s.elements(p, e, kinds, depth)
		}
		if isMapType(e.Type) {
			return s.elements(p, e, kinds, depth)
		}
		return []text{hole}
	}
	return []text{hole}
}

// operand resolves a part of a concatenation: constants, other
// concatenations and formats are known; any other value is a hole (a
// variable's possible values are not multiplied into the text).
func (s *goScan) operand(p *goPkg, e ast.Expr, kinds []string, depth int) []text {
	if _, ok := stringConst(p, e); ok {
		return s.resolve(p, e, kinds, depth+1)
	}
	switch x := unparen(e).(type) {
	case *ast.BinaryExpr:
		return s.resolve(p, x, kinds, depth+1)
	case *ast.CallExpr:
		if sel, ok := x.Fun.(*ast.SelectorExpr); ok && (pkgOf(p, sel.X) == "fmt" || pkgOf(p, sel.X) == "strconv") {
			return s.resolve(p, x, kinds, depth+1)
		}
	}
	s.findT(p, e, kinds)
	return []text{hole}
}

func identOf(e ast.Expr) *ast.Ident {
	switch e := e.(type) {
	case *ast.Ident:
		return e
	case *ast.SelectorExpr:
		return e.Sel
	}
	return nil
}

// elements resolves the elements of a slice, array or map.
func (s *goScan) elements(p *goPkg, e ast.Expr, kinds []string, depth int) []text {
	e = unparen(e)
	if cl, ok := e.(*ast.CompositeLit); ok {
		var out []text
		for _, el := range cl.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				el = kv.Value
			}
			out = append(out, s.resolve(p, el, kinds, depth+1)...)
		}
		return out
	}
	return s.resolve(p, e, kinds, depth+1)
}

func concat(a, b []text) []text {
	var out []text
	for _, x := range a {
		for _, y := range b {
			if len(out) == maxTexts {
				return out
			}
			t := append(append(text{}, x...), y...)
			out = append(out, t)
		}
	}
	return out
}

// resolveVar finds the values given to a variable. A parameter makes its
// function's callers' arguments texts of these kinds.
func (s *goScan) resolveVar(v *types.Var, kinds []string, depth int) []text {
	if v == nil || s.visiting[v] {
		return []text{hole}
	}
	if prm, ok := s.params[v]; ok {
		// A parameter returned as it is (Vocab.Label's unknown code) does
		// not make its callers' arguments texts: only a parameter used by
		// the function itself does.
		if !prm.variadic && s.returning == 0 {
			for _, k := range kinds {
				s.sink(prm.fn, prm.index, k)
			}
		}
		return []text{hole}
	}
	s.visiting[v] = true
	defer delete(s.visiting, v)
	var out []text
	for _, a := range s.assigns[v] {
		switch a.op {
		case token.ADD_ASSIGN: // msg += " It is closed.": a text of its own
			for _, t := range s.resolve(a.pkg, a.rhs, kinds, depth+1) {
				s.emit(t, kinds)
			}
			continue
		case token.RANGE:
			out = append(out, s.elements(a.pkg, a.rhs, kinds, depth)...)
			continue
		}
		if a.index >= 0 {
			if call, ok := unparen(a.rhs).(*ast.CallExpr); ok {
				out = append(out, s.resolveCall(a.pkg, call, kinds, depth, a.index)...)
			}
			continue
		}
		if _, ok := unparen(a.rhs).(*ast.FuncLit); ok {
			continue
		}
		out = append(out, s.resolve(a.pkg, a.rhs, kinds, depth+1)...)
	}
	if len(out) == 0 {
		return []text{hole}
	}
	return out
}

// resolveCall finds the texts a call may return (result index, or -1 for
// the only one).
func (s *goScan) resolveCall(p *goPkg, call *ast.CallExpr, kinds []string, depth, index int) []text {
	if tv, ok := p.info.Types[call.Fun]; ok && tv.IsType() && len(call.Args) == 1 { // string(x)
		return s.resolve(p, call.Args[0], kinds, depth+1)
	}
	if id, ok := unparen(call.Fun).(*ast.Ident); ok && id.Name == "append" {
		if _, builtin := p.info.Uses[id].(*types.Builtin); builtin {
			var out []text
			for _, a := range call.Args {
				out = append(out, s.elements(p, a, kinds, depth)...)
			}
			return out
		}
	}
	if sel, ok := unparen(call.Fun).(*ast.SelectorExpr); ok {
		switch pkgOf(p, sel.X) {
		case "fmt":
			return s.resolveFmt(p, sel.Sel.Name, call, kinds, depth)
		case "strings":
			if sel.Sel.Name == "Join" && len(call.Args) == 2 {
				for _, t := range s.elements(p, call.Args[0], kinds, depth) {
					s.emit(t, kinds)
				}
			} else {
				s.findTArgs(p, call, kinds)
			}
			return []text{hole}
		case "strconv":
			if sel.Sel.Name == "Itoa" || sel.Sel.Name == "FormatInt" {
				return []text{{{kind: segIntHole}}}
			}
			return []text{hole}
		}
		if sel.Sel.Name == "Error" && len(call.Args) == 0 {
			if id, ok := sel.X.(*ast.Ident); ok {
				s.errorTexts(p, varOf(p, id), id.Pos(), with(kinds, KindError))
			}
			return []text{hole}
		}
		if sel.Sel.Name == "String" && len(call.Args) == 0 {
			if id, ok := sel.X.(*ast.Ident); ok {
				if v := varOf(p, id); v != nil && len(s.writes[v]) > 0 {
					for _, w := range s.writes[v] {
						s.resolveWrite(p, w, kinds, depth)
					}
					return []text{hole}
				}
			}
		}
	}
	fn := s.callee(p, call)
	if fn == nil {
		s.findTArgs(p, call, kinds)
		return []text{hole}
	}
	ref, ok := s.funcs[fn]
	if !ok {
		s.findTArgs(p, call, kinds)
		return []text{hole}
	}
	if f, ok := fn.(*types.Func); ok && f.Name() == "T" {
		if i := slices.Index(paramNames(ref.typ()), "msg"); i >= 0 && i < len(call.Args) {
			for _, t := range s.resolve(p, call.Args[i], with(kinds, KindT), depth+1) {
				s.emit(t, with(kinds, KindT))
			}
			return []text{hole}
		}
	}
	s.findTArgs(p, call, kinds)
	return s.returns(fn, ref, kinds, depth, index)
}

// resolveFmt reads fmt.Sprintf and its kin: the format is the text; the
// arguments written with %s or %v that are texts are texts of their own.
func (s *goScan) resolveFmt(p *goPkg, name string, call *ast.CallExpr, kinds []string, depth int) []text {
	switch name {
	case "Sprintf":
		if len(call.Args) == 0 {
			return []text{hole}
		}
		formats := s.resolve(p, call.Args[0], kinds, depth+1)
		var out []text
		for _, f := range formats {
			t := text{}
			for _, sg := range f {
				if sg.kind == segLit {
					sg.kind = segFormat
				}
				t = append(t, sg)
			}
			out = append(out, t)
			s.fmtArgs(p, f.render(), call.Args[1:], kinds, depth)
		}
		return out
	case "Sprint", "Sprintln":
		s.findTArgs(p, call, kinds)
		if len(call.Args) == 1 {
			if b, ok := typeOf(p, call.Args[0]).(*types.Basic); ok && b.Info()&types.IsInteger != 0 {
				return []text{{{kind: segIntHole}}}
			}
		}
		return []text{hole}
	}
	s.findTArgs(p, call, kinds)
	return []text{hole}
}

// fmtArgs records the arguments of a format written with %s or %v that
// resolve to texts ("scheduled", "in 24 hours").
func (s *goScan) fmtArgs(p *goPkg, format string, args []ast.Expr, kinds []string, depth int) {
	verbs := formatVerbs(format)
	var inferred []string // the arguments are not given to T themselves
	for _, k := range kinds {
		if k != KindT {
			inferred = append(inferred, k)
		}
	}
	if len(inferred) == 0 {
		return // the arguments of a text given to T alone: values, not texts
	}
	kinds = inferred
	for i, a := range args {
		if i < len(verbs) && (verbs[i] == 's' || verbs[i] == 'v') {
			for _, t := range s.resolve(p, a, kinds, depth+1) {
				s.emit(t, kinds)
			}
		} else {
			s.findT(p, a, kinds)
		}
	}
}

// formatVerbs lists the verbs of a format that take an argument, in order
// (explicit argument indexes are rare in texts; they are read in order).
func formatVerbs(f string) []byte {
	var out []byte
	for _, m := range verb.FindAllString(f, -1) {
		if v := m[len(m)-1]; v != '%' {
			out = append(out, v)
		}
	}
	return out
}

// resolveWrite reads a write to a builder: each is a text of its own.
func (s *goScan) resolveWrite(p *goPkg, w *ast.CallExpr, kinds []string, depth int) {
	sel := w.Fun.(*ast.SelectorExpr)
	if sel.Sel.Name == "WriteString" {
		for _, t := range s.resolve(p, w.Args[0], kinds, depth+1) {
			s.emit(t, kinds)
		}
		return
	}
	if sel.Sel.Name == "Fprintf" && len(w.Args) > 1 {
		for _, f := range s.resolve(p, w.Args[1], kinds, depth+1) {
			t := text{}
			for _, sg := range f {
				if sg.kind == segLit {
					sg.kind = segFormat
				}
				t = append(t, sg)
			}
			s.emit(t, kinds)
			s.fmtArgs(p, f.render(), w.Args[2:], kinds, depth)
		}
		return
	}
	for _, a := range w.Args[1:] { // Fprint, Fprintln
		for _, t := range s.resolve(p, a, kinds, depth+1) {
			s.emit(t, kinds)
		}
	}
}

// returns resolves what a function of the repository returns.
func (s *goScan) returns(fn funcKey, ref funcRef, kinds []string, depth, index int) []text {
	if s.resolving[fn] || ref.body() == nil {
		return []text{hole}
	}
	ft := ref.typ()
	if ft.Results == nil {
		return []text{hole}
	}
	var results []*ast.Ident
	n := 0
	for _, f := range ft.Results.List {
		if len(f.Names) == 0 {
			results = append(results, nil)
			n++
		}
		for _, name := range f.Names {
			results = append(results, name)
			n++
		}
	}
	if index < 0 {
		index = 0
	}
	if index >= n || !isStringType(ref.pkg, ft, index) {
		return []text{hole}
	}
	s.resolving[fn] = true
	s.returning++
	defer func() { delete(s.resolving, fn); s.returning-- }()
	var out []text
	ast.Inspect(ref.body(), func(node ast.Node) bool {
		switch node := node.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			switch {
			case len(node.Results) == n:
				out = append(out, s.resolve(ref.pkg, node.Results[index], kinds, depth+1)...)
			case len(node.Results) == 1 && n > 1:
				if call, ok := unparen(node.Results[0]).(*ast.CallExpr); ok {
					out = append(out, s.resolveCall(ref.pkg, call, kinds, depth+1, index)...)
				}
			case len(node.Results) == 0 && results[index] != nil:
				out = append(out, s.resolveVar(varOf(ref.pkg, results[index]), kinds, depth+1)...)
			}
		}
		return true
	})
	if len(out) == 0 {
		return []text{hole}
	}
	return out
}

// isStringType reports whether a function's result is a string (or a
// slice of strings).
func isStringType(p *goPkg, ft *ast.FuncType, index int) bool {
	i := 0
	for _, f := range ft.Results.List {
		k := len(f.Names)
		if k == 0 {
			k = 1
		}
		if index < i+k {
			t := typeOf(p, f.Type)
			if sl, ok := t.(*types.Slice); ok {
				t = sl.Elem().Underlying()
			}
			b, ok := t.(*types.Basic)
			return ok && b.Kind() == types.String
		}
		i += k
	}
	return false
}

// findT records the messages given to T inside an expression that reaches
// people by the road of kinds (a PDF heading made with v.T, …).
func (s *goScan) findT(p *goPkg, e ast.Expr, kinds []string) {
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.CallExpr:
			fn := s.callee(p, n)
			f, ok := fn.(*types.Func)
			if !ok || f.Name() != "T" {
				return true
			}
			ref, ok := s.funcs[fn]
			if !ok {
				return true
			}
			if i := slices.Index(paramNames(ref.typ()), "msg"); i >= 0 && i < len(n.Args) {
				ks := with(kinds, KindT)
				for _, t := range s.resolve(p, n.Args[i], ks, 0) {
					s.emit(t, ks)
				}
			}
		}
		return true
	})
}

func (s *goScan) findTArgs(p *goPkg, call *ast.CallExpr, kinds []string) {
	for _, a := range call.Args {
		s.findT(p, a, kinds)
	}
}

// errorTexts records the texts of the errors a variable may hold when its
// text is shown to people (f.Add("birth", err.Error())): the errors made
// by the function of the repository whose result it was, and by the
// functions of its package that it calls.
func (s *goScan) errorTexts(p *goPkg, v *types.Var, use token.Pos, kinds []string) {
	if v == nil {
		return
	}
	var last *assign
	for i, a := range s.assigns[v] {
		if a.pos < use && (last == nil || a.pos > last.pos) {
			last = &s.assigns[v][i]
		}
	}
	if last == nil {
		return
	}
	call, ok := unparen(last.rhs).(*ast.CallExpr)
	if !ok {
		return
	}
	fn := s.callee(last.pkg, call)
	if fn == nil {
		return
	}
	s.errorsOf(fn, kinds, 0)
}

func (s *goScan) errorsOf(fn funcKey, kinds []string, depth int) {
	ref, ok := s.funcs[fn]
	if !ok || depth > 2 || ref.body() == nil {
		return
	}
	key := fmt.Sprint(fn, kinds)
	if s.errSeen[key] {
		return
	}
	s.errSeen[key] = true
	ast.Inspect(ref.body(), func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && len(call.Args) > 0 {
			path := pkgOf(ref.pkg, sel.X)
			if (path == "fmt" && sel.Sel.Name == "Errorf") || (path == "errors" && sel.Sel.Name == "New") {
				if f, ok := stringConst(ref.pkg, call.Args[0]); ok && !isWrap(f) {
					s.emit(text{{kind: segFormat, s: f, pos: call.Args[0].Pos()}}, kinds)
				}
				return true
			}
		}
		if callee := s.callee(ref.pkg, call); callee != nil {
			if cr, ok := s.funcs[callee]; ok && cr.pkg == ref.pkg && cr.lit == nil {
				s.errorsOf(callee, kinds, depth+1)
			}
		}
		return true
	})
}

// isWrap reports whether an error format only wraps another error with
// what was being done ("read user: %w").
func isWrap(f string) bool {
	return strings.HasSuffix(f, ": %w") || strings.HasSuffix(f, ": %v")
}
