package provision

// planSideChannels closes what lies outside the schemas where the toolkit
// may: PUBLIC loses EXECUTE on the functions that create large objects in
// the project database (a large object lives in no schema, and its owner
// may grant it to any role: a channel between services); on the embedded
// cluster, the toolkit's own, PUBLIC loses CONNECT on the maintenance
// databases postgres and template1. On another server those databases are
// left alone (other programs may rely on them): audit reports them.
// Both need a superuser: the functions and those databases belong to the
// bootstrap superuser.
func (pl *planner) planSideChannels() {
	for _, f := range pl.snap.PublicExecutes {
		pl.add(Change{Action: ActionRevoke, phase: phaseRevoke, needsSuper: true,
			SQL:  "REVOKE EXECUTE ON FUNCTION " + f + " FROM PUBLIC",
			Note: "no service may create a large object"})
	}
	if !pl.srv.Embedded() {
		return
	}
	for _, db := range pl.snap.PublicConnects {
		pl.add(Change{Action: ActionRevoke, phase: phaseRevoke, needsSuper: true,
			SQL:  "REVOKE CONNECT ON DATABASE " + ident(db) + " FROM PUBLIC",
			Note: "the embedded cluster's service roles connect to the project database only"})
	}
}
