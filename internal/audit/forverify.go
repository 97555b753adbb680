package audit

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
	"github.com/splitschema/splitschema/internal/verify"
)

// ForVerify is the isolation audit of project p as verify runs it on a
// restored or compared database: its error findings become verify's.
func ForVerify(p *manifest.Project, log *slog.Logger) verify.AuditFunc {
	return func(ctx context.Context, srv *target.Server) (verify.AuditResult, error) {
		rep, err := Run(ctx, p, srv, log)
		if err != nil {
			return verify.AuditResult{}, err
		}
		res := verify.AuditResult{OK: rep.OK}
		for _, f := range rep.Findings {
			if f.Severity != Error {
				continue
			}
			svc := f.Service
			if svc == "" {
				svc = "database"
			}
			res.Findings = append(res.Findings, fmt.Sprintf("%s (%s): %s", f.Check, svc, f.Detail))
		}
		return res, nil
	}
}
