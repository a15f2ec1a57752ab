package web

import (
	"net/http"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/problem"
)

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) error {
	users, err := s.Auth.Users(r.Context())
	if err != nil {
		return err
	}
	v := s.view(r, "Users")
	v.Data = users
	return s.render(w, "users", v)
}

func (s *Server) newUserPage(w http.ResponseWriter, r *http.Request) error {
	v := s.view(r, "New account")
	v.Form.Values["role"] = string(auth.RoleConsularOfficer)
	return s.render(w, "user_new", v)
}

// userInputFromForm reads the account fields of a form.
func userInputFromForm(r *http.Request) auth.UserInput {
	return auth.UserInput{
		Username:    r.PostFormValue("username"),
		DisplayName: r.PostFormValue("display_name"),
		Email:       r.PostFormValue("email"),
		Role:        auth.Role(r.PostFormValue("role")),
		Post:        r.PostFormValue("post"),
		Desk:        r.PostFormValue("desk"),
		Lang:        r.PostFormValue("lang"),
		Disabled:    r.PostFormValue("disabled") == "on",
	}
}

func keepForm(v *view, r *http.Request, names ...string) {
	for _, n := range names {
		v.Form.Values[n] = r.PostFormValue(n)
	}
}

var userFields = []string{"username", "display_name", "email", "role", "post", "desk", "lang", "disabled"}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	in := userInputFromForm(r)
	password := auth.GeneratePassword()
	u, err := s.Auth.CreateUser(r.Context(), st.actor(), in, password, true)
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v := s.view(r, "New account")
		keepForm(v, r, userFields...)
		v.Form.Errors = pe.LocalizeFields(v.T)
		return s.renderStatus(w, http.StatusBadRequest, "user_new", v)
	}
	if err != nil {
		return err
	}
	return s.renderUser(w, r, u, http.StatusCreated, s.view(r, u.DisplayName), password)
}

func (s *Server) userPage(w http.ResponseWriter, r *http.Request) error {
	u, err := s.Auth.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.renderUser(w, r, u, http.StatusOK, s.view(r, u.DisplayName), "")
}

// renderUser shows one account: an edit form for administrators, the
// details for auditors. password is a temporary password shown once.
func (s *Server) renderUser(w http.ResponseWriter, r *http.Request, u *auth.User, code int, v *view, password string) error {
	if len(v.Form.Values) == 0 {
		v.Form.Values = map[string]string{"username": u.Username, "display_name": u.DisplayName, "email": u.Email,
			"role": string(u.Role), "post": u.Post, "desk": u.Desk, "lang": u.Lang}
		if u.Disabled {
			v.Form.Values["disabled"] = "on"
		}
	}
	factors, err := s.Auth.SecondFactors(r.Context(), u.ID)
	if err != nil {
		return err
	}
	v.Data = map[string]any{"Account": u, "Password": password, "Languages": officialLanguages, "Factors": factors}
	return s.renderStatus(w, code, "user", v)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	id := r.PathValue("id")
	old, err := s.Auth.User(r.Context(), id)
	if err != nil {
		return err
	}
	in := userInputFromForm(r)
	in.Username = old.Username
	if _, err := s.Auth.UpdateUser(r.Context(), st.actor(), id, in); err != nil {
		if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
			v := s.view(r, old.DisplayName)
			keepForm(v, r, userFields...)
			v.Form.Values["username"] = old.Username
			v.Form.Errors = pe.LocalizeFields(v.T)
			return s.renderUser(w, r, old, http.StatusBadRequest, v, "")
		}
		return err
	}
	s.redirectFlash(w, r, "/admin/users/"+id, "user-updated")
	return nil
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	u, err := s.Auth.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	password := auth.GeneratePassword()
	if err := s.Auth.SetPassword(r.Context(), st.actor(), u.ID, password, true); err != nil {
		return err
	}
	u.MustChangePassword = true
	return s.renderUser(w, r, u, http.StatusOK, s.view(r, u.DisplayName), password)
}
