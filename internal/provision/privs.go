package provision

import (
	"strings"

	"github.com/splitschema/splitschema/internal/catalog"
)

// priv is a set of privileges.
type priv uint16

const (
	pSelect priv = 1 << iota
	pInsert
	pUpdate
	pDelete
	pTruncate
	pReferences
	pTrigger
	pExecute
	pUsage
	pCreate
	pConnect
	pTemporary
	pMaintain
)

// privNames are in the order statements list them, the order of the bits.
var privNames = [...]string{
	"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
	"EXECUTE", "USAGE", "CREATE", "CONNECT", "TEMPORARY", "MAINTAIN",
}

// The privileges an application role gets on its service's objects.
const (
	appTable    = pSelect | pInsert | pUpdate | pDelete
	appSequence = pUsage | pSelect
	appRoutine  = pExecute
	appType     = pUsage
	appSchema   = pUsage
)

func parsePriv(name string) priv {
	for i, n := range privNames {
		if n == name {
			return 1 << i
		}
	}
	return 0 // a privilege this version does not know: left alone
}

// sql lists the privileges for a GRANT or REVOKE, e.g. "SELECT, INSERT".
func (p priv) sql() string {
	var out []string
	for i, n := range privNames {
		if p&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

// holding is what one grantee holds on one object.
type holding struct {
	privs     priv
	grantable priv
}

// holdings folds grants by grantee.
func holdings(grants []catalog.Grant) map[string]holding {
	out := map[string]holding{}
	for _, g := range grants {
		p := parsePriv(g.Privilege)
		h := out[g.Grantee]
		h.privs |= p
		if g.Grantable {
			h.grantable |= p
		}
		out[g.Grantee] = h
	}
	return out
}

// want is the desired state of one grantee on one object: need must be
// held, allow may be held too; anything else is revoked.
type want struct {
	need  priv
	allow priv
}

// aclOp is one GRANT or REVOKE on one object for one grantee.
type aclOp struct {
	kind    opKind
	privs   priv
	grantee string
}

type opKind int

const (
	opRevoke            opKind = iota // REVOKE privs ... CASCADE
	opRevokeGrantOption               // REVOKE GRANT OPTION FOR privs ... CASCADE
	opGrant                           // GRANT privs
)

// diffGrants compares what grantees hold with what they should. managed
// says which grantees are splitschema's business; the others are left alone.
func diffGrants(have map[string]holding, wants map[string]want, managed func(string) bool) []aclOp {
	var ops []aclOp
	seen := map[string]bool{}
	visit := func(g string) {
		if seen[g] || !managed(g) {
			return
		}
		seen[g] = true
		h, w := have[g], wants[g]
		ok := w.need | w.allow
		if extra := h.privs &^ ok; extra != 0 {
			ops = append(ops, aclOp{kind: opRevoke, privs: extra, grantee: g})
		}
		if opt := h.grantable & h.privs & ok; opt != 0 {
			ops = append(ops, aclOp{kind: opRevokeGrantOption, privs: opt, grantee: g})
		}
		if missing := w.need &^ h.privs; missing != 0 {
			ops = append(ops, aclOp{kind: opGrant, privs: missing, grantee: g})
		}
	}
	for _, g := range sortedKeys(have) {
		visit(g)
	}
	for _, g := range sortedKeys(wants) {
		visit(g)
	}
	return ops
}

// grantee renders a grantee for SQL.
func grantee(name string) string {
	if name == catalog.Public {
		return "PUBLIC"
	}
	return ident(name)
}

// statement renders op on target, e.g. "TABLE orders.order_line" or
// "ALL ROUTINES IN SCHEMA orders".
func (op aclOp) statement(target string) string { return op.columnStatement(target, nil) }

// columnStatement renders op on the given (quoted) columns of target, e.g.
// GRANT REFERENCES ("id") ON TABLE "customers"."customer" TO ...
func (op aclOp) columnStatement(target string, columns []string) string {
	privs := op.privs.sql()
	if len(columns) > 0 {
		privs += " (" + strings.Join(columns, ", ") + ")"
	}
	switch op.kind {
	case opRevoke:
		return "REVOKE " + privs + " ON " + target + " FROM " + grantee(op.grantee) + " CASCADE"
	case opRevokeGrantOption:
		return "REVOKE GRANT OPTION FOR " + privs + " ON " + target + " FROM " + grantee(op.grantee) + " CASCADE"
	}
	return "GRANT " + privs + " ON " + target + " TO " + grantee(op.grantee)
}

func (op aclOp) action() Action {
	if op.kind == opGrant {
		return ActionGrant
	}
	return ActionRevoke
}
