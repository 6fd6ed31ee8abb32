package catalog

import (
	"fmt"
	"strings"

	"tenantry/internal/apperr"
)

// Job is a background job a service offers its clients (rebuild an index,
// recount stock, ...), declared in its manifest:
//
//	"jobs": [{"name": "rebuild_search_index", "title": "Rebuild the search index",
//	          "description": "…", "since": "1.1.0"}]
//
// Since is the first service version that offers it (absent: every
// version). The job's code lives in Go (internal/servicejobs), one
// implementation per range of schema versions; a run uses the code of the
// schema version its instance had when it was queued.
type Job struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Since       string `json:"since,omitempty"`
}

func (s *Service) checkJobs() error {
	seen := map[string]bool{}
	for _, j := range s.Jobs {
		if !nameRe.MatchString(j.Name) || seen[j.Name] {
			return fmt.Errorf("job %q: want a unique lower-case name", j.Name)
		}
		if strings.TrimSpace(j.Title) == "" || strings.TrimSpace(j.Description) == "" {
			return fmt.Errorf("job %q: needs a title and a description", j.Name)
		}
		if j.Since != "" {
			if _, err := s.Version(j.Since); err != nil {
				return fmt.Errorf("job %q: since %q is not among the versions", j.Name, j.Since)
			}
		}
		seen[j.Name] = true
	}
	return nil
}

// JobsAt lists the jobs a version of the service offers, in manifest order.
func (s *Service) JobsAt(version string) []Job {
	var out []Job
	for _, j := range s.Jobs {
		if j.Since == "" || CompareVersions(j.Since, version) <= 0 {
			out = append(out, j)
		}
	}
	return out
}

// Job finds a job the version offers; an unknown one, or one a later
// version brings, is apperr.Invalid with the jobs that exist.
func (s *Service) Job(name, version string) (Job, error) {
	var names []string
	for _, j := range s.JobsAt(version) {
		if j.Name == name {
			return j, nil
		}
		names = append(names, j.Name)
	}
	for _, j := range s.Jobs {
		if j.Name == name {
			return Job{}, apperr.Invalid("%s %s does not offer the job %q yet (it comes with %s)", s.Name, version, name, j.Since)
		}
	}
	if len(names) == 0 {
		return Job{}, apperr.Invalid("%s %s offers no jobs", s.Name, version)
	}
	return Job{}, apperr.Invalid("%s %s has no job %q (offered: %s)", s.Name, version, name, strings.Join(names, ", "))
}
