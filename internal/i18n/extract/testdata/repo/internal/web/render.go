package web

import (
	"html/template"
	"net/http"
	"strings"
)

type Server struct{ lang string }

type view struct {
	s     *Server
	Title string
	Nav   []navItem
	Data  any
	Form  form
}

type form struct {
	Errors map[string]string
	Error  string
}

type navItem struct{ Label, Href string }

// T translates a text of the page.
func (v *view) T(msg string, args ...any) string { return msg }

func (s *Server) view(r *http.Request, title string) *view {
	v := &view{s: s, Title: title}
	for _, item := range []struct{ label, href string }{
		{"Home", "/"},
		{"Cases", "/cases"},
	} {
		v.Nav = append(v.Nav, navItem{Label: item.label, Href: item.href})
	}
	_ = r
	return v
}

var flashes = map[string]string{
	"signed-out": "You have signed out.",
	"case-saved": "The case was saved.",
}

var roleNames = map[string]string{"admin": "Administrator", "officer": "Consular officer"}

func (v *view) RoleName(r string) string { return v.T(roleNames[r]) }

func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"join":  strings.Join,
		"field": func(v *view, name, label, typ string) any { return nil },
		"sel":   func(v *view, name, label, vocab, blank string) any { return nil },
		"label": func(name, code string) string { return code },
	}
}
