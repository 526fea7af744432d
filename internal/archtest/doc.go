// Package archtest holds no code: its test checks that imports flow one way
// (cmd → httpapi → auth, directory, store → graph; backends → store → graph),
// so the domain never learns about HTTP, tokens or a database.
package archtest
