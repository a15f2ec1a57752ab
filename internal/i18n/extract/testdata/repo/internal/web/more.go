package web

import (
	"fmt"
	"net/http"
)

// Warning is said after a form was saved all the same.
type Warning struct{ Message string }

func (s *Server) login(r *http.Request, mode string) (*view, *Warning, any) {
	v := s.view(r, "Sign in")
	v.Form.Errors["username"] = "Enter your username."
	v.Form.Error = "The form was not saved."
	w := &Warning{Message: fmt.Sprintf("%s access is suspended.", mode)}
	body := map[string]any{"error": map[string]string{"code": "conflict", "message": "Someone with this name is on file."}}
	return v, w, body
}
