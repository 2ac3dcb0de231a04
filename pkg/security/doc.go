// Package security holds the security sweep: a test generated from the
// topology and from what each route declares it requires (scope and
// permission, httpapi.Requirement), which tries every route as an attacker
// would and checks the answer is a Botpress 401/403/404 and that nothing in
// any table changed; and every list route with page tokens of another list,
// of another bot and tampered. A route joins it the day it is declared.
package security
