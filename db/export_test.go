package db

// SearchIDsSQL is searchIDsSQL, for db_test's plan check (search_plan_test.go).
var SearchIDsSQL = searchIDsSQL
