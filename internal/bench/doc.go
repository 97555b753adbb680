// Package bench is `make bench`: it generates the example shop at a chosen
// size on a PostgreSQL server (the embedded cluster by default, started in
// a temporary folder and removed at the end), measures splitschema against
// the plain PostgreSQL tools doing the same job in the same run, and renders
// one markdown table of medians over several runs:
//
//   - backup wall time and size against pg_dump -Fc with its defaults and
//     against a hand-tuned pg_dump -Fd --jobs=N --compress=<ours>, and the
//     floor of reading every table: parallel COPY ... TO a sink;
//   - restore + full verify against pg_restore --jobs=N alone;
//   - the shop's writers' throughput while a backup runs against without;
//   - provisioning 500 generated services from empty, a no-op plan on 500,
//     plans on 100 and 1000 services, and migrate up of 100 services with 5
//     migrations each, each against the same SQL run by one session.
//
// Each row has a floor (from issue 7) that it meets or not. Nothing here
// runs in `go test`: timings are measured, never asserted in tests.
//
// Every scenario works in databases and roles of its own, named bench_...,
// and drops them at the end.
package bench
