package ghfake

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxAnnotations is how many annotations the Checks API takes per request.
const maxAnnotations = 50

// checkRunIn is the body of a create or update request.
type checkRunIn struct {
	Name       *string   `json:"name"`
	HeadSHA    *string   `json:"head_sha"`
	DetailsURL *string   `json:"details_url"`
	ExternalID *string   `json:"external_id"`
	Status     *string   `json:"status"`
	Conclusion *string   `json:"conclusion"`
	Output     *outputIn `json:"output"`
}

type outputIn struct {
	Title       *string        `json:"title"`
	Summary     *string        `json:"summary"`
	Text        *string        `json:"text"`
	Annotations []annotationIn `json:"annotations"`
}

type annotationIn struct {
	Path        *string `json:"path"`
	StartLine   *int    `json:"start_line"`
	EndLine     *int    `json:"end_line"`
	StartColumn *int    `json:"start_column"`
	EndColumn   *int    `json:"end_column"`
	Level       *string `json:"annotation_level"`
	Message     *string `json:"message"`
	Title       *string `json:"title"`
}

var (
	statuses    = []string{"queued", "in_progress", "completed"}
	conclusions = []string{"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"}
	levels      = []string{"notice", "warning", "failure"}
)

// validate returns the field and message of the first thing GitHub would
// refuse with 422, or "" when the request is valid.
func (in *checkRunIn) validate() (field, msg string) {
	if in.Status != nil && !slices.Contains(statuses, *in.Status) {
		return "status", "invalid status " + *in.Status
	}
	if in.Conclusion != nil && !slices.Contains(conclusions, *in.Conclusion) {
		return "conclusion", "invalid conclusion " + *in.Conclusion
	}
	if in.Status != nil && *in.Status == "completed" && in.Conclusion == nil {
		return "conclusion", "conclusion is required when status is completed"
	}
	out := in.Output
	if out == nil {
		return "", ""
	}
	switch {
	case out.Title == nil || *out.Title == "":
		return "output.title", "title is missing"
	case out.Summary == nil || *out.Summary == "":
		return "output.summary", "summary is missing"
	case utf8.RuneCountInString(*out.Summary) > 65535:
		return "output.summary", "summary is too long (maximum is 65535 characters)"
	case out.Text != nil && utf8.RuneCountInString(*out.Text) > 65535:
		return "output.text", "text is too long (maximum is 65535 characters)"
	case len(out.Annotations) > maxAnnotations:
		return "output.annotations", fmt.Sprintf("only %d annotations may be sent per request", maxAnnotations)
	}
	for i, a := range out.Annotations {
		f := fmt.Sprintf("output.annotations[%d]", i)
		switch {
		case a.Path == nil || *a.Path == "" || a.Message == nil || *a.Message == "" ||
			a.StartLine == nil || a.EndLine == nil || a.Level == nil:
			return f, "path, start_line, end_line, annotation_level and message are required"
		case !slices.Contains(levels, *a.Level):
			return f + ".annotation_level", "invalid annotation_level " + *a.Level
		case *a.StartLine < 1 || *a.EndLine < *a.StartLine:
			return f + ".start_line", "lines must be 1 or more and start_line <= end_line"
		case (a.StartColumn != nil || a.EndColumn != nil) && *a.StartLine != *a.EndLine:
			return f + ".start_column", "start_column and end_column may only be set when start_line equals end_line"
		}
	}
	return "", ""
}

// apply records the fields in sets on cr.
func (in *checkRunIn) apply(cr *CheckRun) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	if in.Name != nil && *in.Name != "" { // go-github always sends name on update
		cr.Name = *in.Name
	}
	set(&cr.DetailsURL, in.DetailsURL)
	set(&cr.ExternalID, in.ExternalID)
	set(&cr.Status, in.Status)
	if in.Conclusion != nil {
		cr.Conclusion, cr.Status = *in.Conclusion, "completed"
	}
	if out := in.Output; out != nil {
		cr.Title, cr.Summary = *out.Title, *out.Summary
		set(&cr.Text, out.Text)
		for _, a := range out.Annotations {
			an := Annotation{Path: *a.Path, StartLine: *a.StartLine, EndLine: *a.EndLine,
				StartColumn: a.StartColumn, EndColumn: a.EndColumn, Level: *a.Level, Message: *a.Message}
			set(&an.Title, a.Title)
			cr.Annotations = append(cr.Annotations, an)
		}
		if len(out.Annotations) > 0 { // appended, as GitHub does
			cr.AnnotationBatches = append(cr.AnnotationBatches, len(out.Annotations))
		}
	}
}

func (s *Server) createCheckRun(w http.ResponseWriter, r *http.Request) {
	var in checkRunIn
	if !decode(w, r, &in) {
		return
	}
	rp := s.lookup(w, r)
	if rp == nil {
		return
	}
	defer s.mu.Unlock()
	field, msg := in.validate()
	switch {
	case in.Name == nil || *in.Name == "":
		field, msg = "name", "name is missing"
	case in.HeadSHA == nil || !rp.commits[*in.HeadSHA]:
		field, msg = "head_sha", "No commit found for SHA: "+deref(in.HeadSHA)
	}
	if msg != "" {
		invalid(w, "CheckRun", field, msg)
		return
	}
	s.nextID++
	cr := &CheckRun{ID: s.nextID, HeadSHA: *in.HeadSHA, Status: "queued"}
	in.apply(cr)
	rp.checkRuns = append(rp.checkRuns, cr)
	writeJSON(w, http.StatusCreated, cr.json(s, rp))
}

func (s *Server) updateCheckRun(w http.ResponseWriter, r *http.Request) {
	var in checkRunIn
	if !decode(w, r, &in) {
		return
	}
	rp := s.lookup(w, r)
	if rp == nil {
		return
	}
	defer s.mu.Unlock()
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	i := slices.IndexFunc(rp.checkRuns, func(cr *CheckRun) bool { return cr.ID == id })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if field, msg := in.validate(); msg != "" {
		invalid(w, "CheckRun", field, msg)
		return
	}
	cr := rp.checkRuns[i]
	in.apply(cr)
	cr.Updates++
	writeJSON(w, http.StatusOK, cr.json(s, rp))
}

func (cr *CheckRun) json(s *Server, rp *repo) obj {
	var conclusion any
	if cr.Conclusion != "" {
		conclusion = cr.Conclusion
	}
	return obj{
		"id": cr.ID, "name": cr.Name, "head_sha": cr.HeadSHA, "status": cr.Status, "conclusion": conclusion,
		"external_id": cr.ExternalID, "details_url": cr.DetailsURL,
		"url":      fmt.Sprintf("%s/repos/%s/%s/check-runs/%d", s.URL, rp.owner, rp.name, cr.ID),
		"html_url": fmt.Sprintf("%s/%s/%s/runs/%d", s.URL, rp.owner, rp.name, cr.ID),
		"output": obj{"title": cr.Title, "summary": cr.Summary, "text": cr.Text,
			"annotations_count": len(cr.Annotations)},
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
