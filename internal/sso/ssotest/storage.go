package ssotest

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is an account at the provider.
type User struct {
	// Username is what the user types on the login page, and the
	// preferred_username claim. Required.
	Username string
	// Password is what the user types with it; "" means DefaultPassword.
	Password string
	// Subject is the sub claim; "" means Username.
	Subject string
	// Name is the name claim (with the profile scope); "" sends none.
	Name string
	// Email is the email claim (with the email scope), marked verified when
	// not empty.
	Email string
	// Groups is the groups claim, an array of strings; nil sends none.
	Groups []string
	// Post and Desk are the post and desk claims; "" sends none.
	Post, Desk string
	// Claims are further claims, added last, so that they may also replace
	// groups, post or desk (for instance a groups claim that is a single
	// string).
	Claims map[string]any
}

// AddUser adds an account to the provider, or replaces the one with the
// same subject. It may be called while the provider runs. It panics if
// Username is empty or belongs to an account with another subject.
func (p *Provider) AddUser(u User) {
	if u.Username == "" {
		panic("ssotest: AddUser: the user name is empty")
	}
	if u.Password == "" {
		u.Password = DefaultPassword
	}
	if u.Subject == "" {
		u.Subject = u.Username
	}
	first, last, _ := strings.Cut(u.Name, " ")
	a := &account{
		user: storage.User{ID: u.Subject, Username: u.Username, Password: u.Password,
			FirstName: first, LastName: last, Email: u.Email, EmailVerified: u.Email != ""},
		name:   u.Name,
		claims: map[string]any{},
	}
	if u.Groups != nil {
		a.claims["groups"] = append([]string{}, u.Groups...)
	}
	if u.Post != "" {
		a.claims["post"] = u.Post
	}
	if u.Desk != "" {
		a.claims["desk"] = u.Desk
	}
	maps.Copy(a.claims, u.Claims)

	s := p.store.users
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, other := range s.byID {
		if other.user.Username == u.Username && id != u.Subject {
			panic(fmt.Sprintf("ssotest: AddUser: the user name %q already belongs to the subject %q", u.Username, id))
		}
	}
	s.byID[u.Subject] = a
}

// account is a user as the provider keeps it.
type account struct {
	user   storage.User
	name   string
	claims map[string]any
}

// userStore gives zitadel's example storage our users. An account is never
// changed once stored (AddUser replaces it), so the pointers it hands out
// may be read without the lock.
type userStore struct {
	mu   sync.RWMutex
	byID map[string]*account
}

func (s *userStore) get(id string) *account {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[id]
}

// GetUserByID implements storage.UserStore.
func (s *userStore) GetUserByID(id string) *storage.User {
	if a := s.get(id); a != nil {
		return &a.user
	}
	return nil
}

// GetUserByUsername implements storage.UserStore.
func (s *userStore) GetUserByUsername(name string) *storage.User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, a := range s.byID {
		if a.user.Username == name {
			return &a.user
		}
	}
	return nil
}

// ExampleClientID implements storage.UserStore: the client id under which
// the example storage registers its JWT-profile service key.
func (s *userStore) ExampleClientID() string { return "service" }

// store is zitadel's example storage with our claims, post-logout redirect
// URIs and tampering.
type store struct {
	*storage.Storage
	users          *userStore
	postLogout     []string
	tamperNonce    atomic.Bool
	tamperAudience atomic.Bool
}

// addClaims completes userinfo, filled by the example storage, with the
// name and the further claims of the account with the subject sub.
func (s *store) addClaims(userinfo *oidc.UserInfo, sub string) {
	a := s.users.get(sub)
	if a == nil {
		return
	}
	if userinfo.PreferredUsername != "" { // the profile scope was granted
		userinfo.Name = a.name
	}
	for k, v := range a.claims {
		userinfo.AppendClaims(k, v)
	}
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *store) SetUserinfoFromRequest(ctx context.Context, userinfo *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, userinfo, req, scopes); err != nil {
		return err
	}
	s.addClaims(userinfo, req.GetSubject())
	return nil
}

// SetUserinfoFromToken fills the userinfo endpoint's answer.
func (s *store) SetUserinfoFromToken(ctx context.Context, userinfo *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, userinfo, tokenID, subject, origin); err != nil {
		return err
	}
	if userinfo.Subject != "" {
		subject = userinfo.Subject
	}
	s.addClaims(userinfo, subject)
	return nil
}

// AuthRequestByCode is where the token endpoint finds the request a code
// was issued for; tampering here makes the provider sign a token with
// another nonce or audience.
func (s *store) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.Storage.AuthRequestByCode(ctx, code)
	nonce, audience := s.tamperNonce.Load(), s.tamperAudience.Load()
	if err != nil || (!nonce && !audience) {
		return r, err
	}
	return tamperedRequest{AuthRequest: r, nonce: nonce, audience: audience}, nil
}

// GetClientByClientID adds the post-logout redirect URIs to the example
// storage's client, and renames it when the audience is tampered with.
func (s *store) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return c, err
	}
	c = client{Client: c, postLogout: s.postLogout}
	if s.tamperAudience.Load() {
		c = renamedClient{c}
	}
	return c, nil
}

// client is the example storage's client with post-logout redirect URIs
// (it has none of its own, nor redirect URI globs).
type client struct {
	op.Client
	postLogout []string
}

func (c client) PostLogoutRedirectURIs() []string { return c.postLogout }

// renamedClient makes the provider issue tokens to OtherAudience. (The
// provider always adds the requesting client to the audience, so the
// client itself must be renamed.)
type renamedClient struct{ op.Client }

func (renamedClient) GetID() string { return OtherAudience }

// tamperedRequest is an authorization request whose nonce or audience the
// token endpoint sees altered.
type tamperedRequest struct {
	op.AuthRequest
	nonce, audience bool
}

func (r tamperedRequest) GetNonce() string {
	if r.nonce {
		return "not-the-nonce-of-this-sign-in"
	}
	return r.AuthRequest.GetNonce()
}

// GetClientID and GetAudience, with renamedClient, make the provider issue
// the ID token to another application: its aud and azp name only that one.
func (r tamperedRequest) GetClientID() string {
	if r.audience {
		return OtherAudience
	}
	return r.AuthRequest.GetClientID()
}

func (r tamperedRequest) GetAudience() []string {
	if r.audience {
		return []string{OtherAudience}
	}
	return r.AuthRequest.GetAudience()
}
