package web_test

// families are the family members, whose pages are theirs alone.
var families = []string{"family"}

// familyRouteAccess says who may reach each family channel route.
var familyRouteAccess = map[string][]string{
	"GET /cases/{id}/family":                                      workers,
	"POST /cases/{id}/family/contacts":                            workers,
	"POST /cases/{id}/family/contacts/{contact}":                  workers,
	"POST /cases/{id}/family/contacts/{contact}/archive":          workers,
	"POST /cases/{id}/family/contacts/{contact}/invite":           workers,
	"GET /cases/{id}/family/contacts/{contact}/update.pdf":        workers,
	"POST /cases/{id}/family/invitations/{inv}/revoke":            workers,
	"POST /cases/{id}/family/consents":                            workers,
	"POST /cases/{id}/family/consents/{consent}/withdraw":         workers,
	"POST /cases/{id}/family/consents/withdraw-all":               workers,
	"POST /cases/{id}/family/messages":                            workers,
	"POST /cases/{id}/family/messages/{msg}/delivered":            workers,
	"POST /cases/{id}/family/messages/{msg}/not-delivered":        workers,
	"POST /cases/{id}/family/messages/{msg}/release":              workers,
	"POST /cases/{id}/family/summaries":                           workers,
	"POST /cases/{id}/family/exceptions":                          approvers,
	"POST /cases/{id}/family/exceptions/{exception}/end":          workers,
	"GET /family/invite/{token}":                                  anyone,
	"POST /family/invite/{token}":                                 anyone,
	"GET /family":                                                 families,
	"GET /family/cases/{id}":                                      families,
	"POST /family/cases/{id}/messages":                            families,
	"GET /api/v1/cases/{id}/family":                               workers,
	"POST /api/v1/cases/{id}/family/contacts":                     workers,
	"POST /api/v1/cases/{id}/family/consents":                     workers,
	"POST /api/v1/cases/{id}/family/consents/{consent}/withdraw":  workers,
	"POST /api/v1/cases/{id}/family/messages":                     workers,
	"POST /api/v1/cases/{id}/family/messages/{msg}/delivered":     workers,
	"POST /api/v1/cases/{id}/family/messages/{msg}/not-delivered": workers,
	"POST /api/v1/cases/{id}/family/messages/{msg}/release":       workers,
	"POST /api/v1/cases/{id}/family/exceptions":                   approvers,
	"POST /api/v1/cases/{id}/family/exceptions/{exception}/end":   workers,
	"GET /api/v1/family":                                          families,
	"POST /api/v1/family/cases/{id}/messages":                     families,
}
