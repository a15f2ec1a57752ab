package web_test

// reportRouteAccess says who may reach each visit report route.
var reportRouteAccess = map[string][]string{}
