package web_test

// reportRouteAccess says who may reach each visit report route.
var reportRouteAccess = map[string][]string{
	"GET /cases/{id}/visits/{visit}":                           workers,
	"GET /cases/{id}/visits/{visit}/report":                    workers,
	"GET /cases/{id}/visits/{visit}/report.pdf":                workers,
	"POST /cases/{id}/visits/{visit}/report":                   workers,
	"POST /cases/{id}/visits/{visit}/report/save":              workers,
	"POST /cases/{id}/visits/{visit}/report/approve":           approvers,
	"POST /cases/{id}/visits/{visit}/report/return":            approvers,
	"POST /cases/{id}/visits/{visit}/report/amendments":        workers,
	"POST /cases/{id}/visits/{visit}/report/raise":             workers,
	"POST /api/v1/cases/{id}/visits/{visit}/report/raise":      workers,
	"POST /cases/{id}/visits/{visit}/report/followups":         workers,
	"POST /cases/{id}/followups/{item}/done":                   workers,
	"POST /escalations/{item}/acknowledge":                     approvers,
	"GET /api/v1/cases/{id}/reports":                           workers,
	"GET /api/v1/cases/{id}/visits/{visit}/report":             workers,
	"POST /api/v1/cases/{id}/visits/{visit}/report":            workers,
	"PUT /api/v1/cases/{id}/visits/{visit}/report":             workers,
	"POST /api/v1/cases/{id}/visits/{visit}/report/submit":     workers,
	"POST /api/v1/cases/{id}/visits/{visit}/report/approve":    approvers,
	"POST /api/v1/cases/{id}/visits/{visit}/report/return":     approvers,
	"POST /api/v1/cases/{id}/visits/{visit}/report/amendments": workers,
	"POST /api/v1/cases/{id}/visits/{visit}/report/followups":  workers,
	"POST /api/v1/cases/{id}/followups/{item}/done":            workers,
	"GET /api/v1/reports/pending":                              approvers,
	"GET /api/v1/escalations":                                  workers,
	"POST /api/v1/escalations/{item}/acknowledge":              approvers,
	"GET /api/v1/followups/due":                                workers,
}

// approvers approve or return visit reports.
var approvers = []string{"admin", "supervisor"}
