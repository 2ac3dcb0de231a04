package admin

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// InvitationTTL is how long an invitation code can be exchanged.
const InvitationTTL = 7 * 24 * time.Hour

// --- handlers ---

// mayGrant keeps the owner role in owners' hands.
func mayGrant(caller auth.Role, roles ...auth.Role) error {
	for _, r := range roles {
		if r == auth.Owner && caller != auth.Owner {
			return apperr.New(apperr.Forbidden, "only an owner can grant, change or remove the owner role")
		}
	}
	return nil
}

func (a *API) listMembers(r *http.Request) (httpapi.Response, error) {
	members, next, err := a.store.ListMembers(r.Context(), auth.FromContext(r.Context()).WorkspaceID, httpapi.QueryOf(r).String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("members", members, next)), nil
}

func (a *API) getMemberMe(r *http.Request) (httpapi.Response, error) {
	p := auth.FromContext(r.Context())
	m, err := a.store.MemberAndAccount(r.Context(), p.WorkspaceID, p.AccountID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(m), nil
}

func (a *API) createMember(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Email *string `json:"email"`
		Role  *string `json:"role"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Email == nil {
		return httpapi.Response{}, apperr.Invalid("email is required")
	}
	addr, err := mail.ParseAddress(*in.Email)
	if err != nil || addr.Address != *in.Email || len(*in.Email) > 254 {
		return httpapi.Response{}, apperr.Invalid("email must be an email address")
	}
	if in.Role == nil || !auth.Role(*in.Role).Valid() {
		return httpapi.Response{}, apperr.Invalid("role must be one of owner, administrator, manager, developer, viewer, billing")
	}
	role, email := auth.Role(*in.Role), strings.ToLower(*in.Email)
	p := auth.FromContext(r.Context())
	if err := mayGrant(p.Role, role); err != nil {
		return httpapi.Response{}, err
	}
	acc, err := a.store.AccountIDByEmail(r.Context(), email)
	if err != nil {
		return httpapi.Response{}, err
	}
	now := a.clock.Now()
	m := NewMember{Workspace: p.WorkspaceID, AccountID: acc, Role: role, CreatedAt: clock.Format(now)}
	if acc == "" {
		m.AccountID = id.NewAt(id.Account, now)
		m.NewAccount = &Account{ID: m.AccountID, Email: email, CreatedAt: clock.Format(now)}
	}
	rec := audit.New(p.WorkspaceID, p.AccountID, audit.AddMember, m.AccountID, email, now)
	rec.Value = string(role)
	if err := a.store.AddMember(r.Context(), m, rec); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(Member{ID: m.AccountID, UserID: audit.UserUUID(m.AccountID), Email: email, CreatedAt: m.CreatedAt, Role: string(role)}), nil
}

// createInvitation issues a one-time code for a member added without an
// account and emails it to them, so the inviter never holds what yields
// their token; it replaces any earlier code. Without a mail sender (local
// development) the code is answered instead, but only to the workspace
// that created the account and only while no other workspace has it (see
// admindata.Store.IssueInvitation): no other workspace gets a path to it.
func (a *API) createInvitation(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	now := a.clock.Now()
	code, expires := invitationCode(), now.Add(InvitationTTL)
	rec := audit.New(p.WorkspaceID, p.AccountID, audit.InviteMember, r.PathValue("id"), "", now)
	if err := a.store.IssueInvitation(r.Context(), p.WorkspaceID, r.PathValue("id"), auth.HashToken(code), expires, rec, a.mail == nil); err != nil {
		return httpapi.Response{}, err
	}
	if a.mail == nil {
		return httpapi.OK(map[string]any{"invitation": map[string]any{"code": code, "expiresAt": clock.Format(expires)}}), nil
	}
	acc, err := a.store.Account(r.Context(), r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := a.mail.SendInvitation(r.Context(), acc.Email, code, expires); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"invitation": map[string]any{"sentTo": acc.Email, "expiresAt": clock.Format(expires)}}), nil
}

func invitationCode() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics on a broken system)
	return "bp_inv_" + base64.RawURLEncoding.EncodeToString(b)
}

func (a *API) updateMember(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Role *string `json:"role"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Role != nil && !auth.Role(*in.Role).Valid() {
		return httpapi.Response{}, apperr.Invalid("role must be one of owner, administrator, manager, developer, viewer, billing")
	}
	p := auth.FromContext(r.Context())
	m, err := a.store.Member(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if in.Role == nil || *in.Role == m.Role {
		return a.memberAnswer(r, m)
	}
	if err := mayGrant(p.Role, auth.Role(m.Role), auth.Role(*in.Role)); err != nil {
		return httpapi.Response{}, err
	}
	rec := audit.New(p.WorkspaceID, p.AccountID, audit.UpdateMember, m.ID, "", a.clock.Now())
	rec.Value = m.Role + " → " + *in.Role
	if err := a.store.ChangeMember(r.Context(), p.WorkspaceID, m.ID, auth.Role(m.Role), auth.Role(*in.Role), rec); err != nil {
		return httpapi.Response{}, err
	}
	m.Role = *in.Role
	return a.memberAnswer(r, m)
}

// memberAnswer adds the account's email to a member read from its
// membership (one GetItem).
func (a *API) memberAnswer(r *http.Request, m Member) (httpapi.Response, error) {
	acc, err := a.store.Account(r.Context(), m.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	m.Email, m.DisplayName, m.ProfilePicture = acc.Email, acc.DisplayName, acc.ProfilePicture
	return httpapi.OK(m), nil
}

func (a *API) deleteMember(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	m, err := a.store.Member(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := mayGrant(p.Role, auth.Role(m.Role)); err != nil {
		return httpapi.Response{}, err
	}
	rec := audit.New(p.WorkspaceID, p.AccountID, audit.RemoveMember, m.ID, "", a.clock.Now())
	rec.Value = m.Role
	if err := a.store.ChangeMember(r.Context(), p.WorkspaceID, m.ID, auth.Role(m.Role), "", rec); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

// acceptInvitation exchanges an invitation code for the invited account's
// first personal access token. It needs no bearer token: the code is the
// credential, and the value is shown to its holder only.
func (a *API) acceptInvitation(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Code *string `json:"code"`
		Note *string `json:"note"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Code == nil || *in.Code == "" {
		return httpapi.Response{}, apperr.Invalid("code is required")
	}
	note := "first token (invitation)"
	if in.Note != nil {
		if len(*in.Note) > 200 {
			return httpapi.Response{}, apperr.Invalid("note must be at most 200 characters")
		}
		note = *in.Note
	}
	now := a.clock.Now()
	pat := PAT{ID: id.NewAt(id.PAT, now), CreatedAt: clock.Format(now), Note: note, Value: auth.NewTokenValue()}
	stored := pat
	stored.Value = ""
	if _, err := a.store.AcceptInvitation(r.Context(), auth.HashToken(*in.Code), now, auth.HashToken(pat.Value), stored); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"pat": pat}), nil
}
