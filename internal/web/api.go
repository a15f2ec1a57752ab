package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/problem"
)

// decodeJSON reads one JSON object into v, refusing unknown fields, wrong
// types and trailing data with a message that names the field.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		if dec.More() {
			return problem.Field("body", "Send one JSON object, with nothing after it.")
		}
		return nil
	case errors.Is(err, io.EOF):
		return problem.Field("body", "The body is empty: send a JSON object.")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return problem.Field("body", "The body is not valid JSON.")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return problem.Field(field, "Wrong type: expected "+jsonKind(typeErr.Type.Kind().String())+".")
	case errors.As(err, &tooBig):
		return problem.Field("body", "The body is too large.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Field(name, "Unknown field.")
	}
	return problem.Field("body", "The body could not be read.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "a number"
}

type userJSON struct {
	ID                 string    `json:"id"`
	Username           string    `json:"username"`
	DisplayName        string    `json:"display_name"`
	Email              string    `json:"email"`
	Role               auth.Role `json:"role"`
	Post               string    `json:"post"`
	Desk               string    `json:"desk"`
	Lang               string    `json:"lang"`
	MustChangePassword bool      `json:"must_change_password"`
	Disabled           bool      `json:"disabled"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

func toUserJSON(u *auth.User) userJSON {
	return userJSON{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Role: u.Role, Post: u.Post,
		Desk: u.Desk, Lang: u.Lang, MustChangePassword: u.MustChangePassword, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, toUserJSON(stateOf(r).user))
	return nil
}

func (s *Server) apiChangePassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Current  string `json:"current"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	st := stateOf(r)
	if err := s.Auth.ChangeOwnPassword(r.Context(), st.user, st.address, in.Current, in.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Token      string     `json:"token,omitempty"` // only when created
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request) error {
	tokens, err := s.Auth.Tokens(r.Context(), stateOf(r).user.ID)
	if err != nil {
		return err
	}
	out := []tokenJSON{}
	for _, t := range tokens {
		out = append(out, tokenJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, LastUsedAt: optTime(t.LastUsedAt), RevokedAt: optTime(t.RevokedAt)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	st := stateOf(r)
	secret, t, err := s.Auth.CreateToken(r.Context(), st.actor(), st.user.ID, in.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenJSON{ID: t.ID, Name: t.Name, Token: secret, CreatedAt: t.CreatedAt})
	return nil
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if err := s.Auth.RevokeToken(r.Context(), st.actor(), st.user.ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.Auth.Users(r.Context())
	if err != nil {
		return err
	}
	out := []userJSON{}
	for _, u := range users {
		out = append(out, toUserJSON(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

func (s *Server) apiUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.Auth.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username    string    `json:"username"`
		DisplayName string    `json:"display_name"`
		Email       string    `json:"email"`
		Role        auth.Role `json:"role"`
		Post        string    `json:"post"`
		Desk        string    `json:"desk"`
		Lang        string    `json:"lang"`
		Password    string    `json:"password"` // empty: a temporary one is made
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	password, generated := in.Password, in.Password == ""
	if generated {
		password = auth.GeneratePassword()
	}
	st := stateOf(r)
	u, err := s.Auth.CreateUser(r.Context(), st.actor(), auth.UserInput{Username: in.Username, DisplayName: in.DisplayName,
		Email: in.Email, Role: in.Role, Post: in.Post, Desk: in.Desk, Lang: in.Lang}, password, generated)
	if err != nil {
		return err
	}
	out := map[string]any{"user": toUserJSON(u)}
	if generated {
		out["temporary_password"] = password
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) apiUpdateUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		DisplayName *string    `json:"display_name"`
		Email       *string    `json:"email"`
		Role        *auth.Role `json:"role"`
		Post        *string    `json:"post"`
		Desk        *string    `json:"desk"`
		Lang        *string    `json:"lang"`
		Disabled    *bool      `json:"disabled"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	st := stateOf(r)
	u, err := s.Auth.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	up := auth.UserInput{Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Role: u.Role, Post: u.Post,
		Desk: u.Desk, Lang: u.Lang, Disabled: u.Disabled}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&up.DisplayName, in.DisplayName)
	set(&up.Email, in.Email)
	set(&up.Post, in.Post)
	set(&up.Desk, in.Desk)
	set(&up.Lang, in.Lang)
	if in.Role != nil {
		up.Role = *in.Role
	}
	if in.Disabled != nil {
		up.Disabled = *in.Disabled
	}
	u, err = s.Auth.UpdateUser(r.Context(), st.actor(), u.ID, up)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func (s *Server) apiResetPassword(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	password := auth.GeneratePassword()
	if err := s.Auth.SetPassword(r.Context(), st.actor(), r.PathValue("id"), password, true); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"temporary_password": password})
	return nil
}

type auditJSON struct {
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	ActorID    string    `json:"actor_id"`
	Actor      string    `json:"actor"`
	Address    string    `json:"address"`
	Action     string    `json:"action"`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	Reason     string    `json:"reason"`
	Detail     string    `json:"detail"`
	Hash       string    `json:"hash"`
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) error {
	entries, _, err := s.readAudit(r)
	if err != nil {
		return err
	}
	out := []auditJSON{}
	for _, e := range entries {
		out = append(out, toAuditJSON(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
	return nil
}

func toAuditJSON(e audit.Entry) auditJSON {
	return auditJSON{Seq: e.Seq, At: e.At, ActorID: e.Actor.ID, Actor: e.Actor.Name, Address: e.Actor.Address, Action: e.Action,
		ObjectType: e.ObjectType, ObjectID: e.ObjectID, Reason: e.Reason, Detail: e.Detail, Hash: e.Hash}
}

func (s *Server) apiVerifyAudit(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.verify(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"whole": rep.OK(), "entries": rep.Entries, "head": rep.Head,
		"broken_at": rep.BrokenAt, "problem": rep.Problem})
	return nil
}
