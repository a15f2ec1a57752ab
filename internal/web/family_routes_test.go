package web_test

// familyRouteAccess says who may reach each family channel route.
var familyRouteAccess = map[string][]string{}
