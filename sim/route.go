package sim

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// route is what a request addresses, for the fault rules and the trace: its
// verb as the audit log names it, the resource and the object's name.
type route struct {
	Verb, Resource, Namespace, Name string
}

// parseRoute reads a request's route off its method and path:
// /api/v1/[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]] and the same under
// /apis/GROUP/VERSION; other paths (discovery) are a get or list of the path.
func parseRoute(req *http.Request) route {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return route{Verb: VerbGet, Resource: req.URL.Path}
	}
	if len(parts) == 0 { // a group version's discovery document
		return route{Verb: VerbGet, Resource: req.URL.Path}
	}
	var rt route
	if len(parts) >= 3 && parts[0] == "namespaces" {
		rt.Namespace, parts = parts[1], parts[2:]
	}
	if len(parts) > 0 {
		rt.Resource = parts[0]
	}
	if len(parts) > 1 {
		rt.Name = parts[1]
	}
	if len(parts) > 2 {
		rt.Resource += "/" + parts[2]
	}
	switch req.Method {
	case http.MethodGet:
		rt.Verb = VerbGet
		if rt.Name == "" {
			rt.Verb = VerbList
			if w := req.URL.Query().Get("watch"); w == "true" || w == "1" {
				rt.Verb = VerbWatch
			}
		}
	case http.MethodPost:
		rt.Verb = VerbCreate
	case http.MethodPut:
		rt.Verb = VerbUpdate
	case http.MethodPatch:
		rt.Verb = VerbPatch
	case http.MethodDelete:
		rt.Verb = VerbDelete
	default:
		rt.Verb = strings.ToLower(req.Method)
	}
	return rt
}

// response is a server's answer as the request path handles it: the status,
// the body (or, for a watch, its stream), the status error of a failure and
// the lease of a lease write.
type response struct {
	Code        int
	ContentType string
	Body        []byte
	Stream      io.ReadCloser
	Err         error
	Lease       *coordinationv1.Lease
	// Warnings are the answer's Warning headers (unknown fields, say), and
	// RetryAfter its Retry-After header, which client-go's REST client
	// obeys: it sends a 429 or 5xx answer with one again.
	Warnings   []string
	RetryAfter string
}

// server is a backend's API server as a request meets it on arrival.
type server interface{ serve(r *request) response }

// roundTrip sends the request through next with context ctx (the client's
// own, or one that outlives it) and reads the answer: whole, except a
// watch's, whose stream the network carries on.
func (r *request) roundTrip(ctx context.Context, next http.RoundTripper) response {
	start := time.Now()
	out := r.outgoing()
	if ctx != out.Context() {
		out = out.WithContext(ctx)
	}
	resp, err := next.RoundTrip(out)
	if err != nil {
		r.rep.err = err
		return response{}
	}
	if r.route.Verb == VerbWatch && resp.StatusCode == http.StatusOK {
		return response{Code: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Stream: resp.Body}
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		r.rep.err = err
		return response{}
	}
	if !r.p.c.api.simulated() {
		r.p.c.rec.roundTrip(r.route.Verb, time.Since(start))
	}
	answer := decodeAnswer(r, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	answer.Warnings, answer.RetryAfter = resp.Header.Values("Warning"), resp.Header.Get("Retry-After")
	return answer
}

// outgoing is the client's request as the server gets it: a shallow copy
// (a RoundTripper must not change the request it is given) that carries
// the body read off the original.
func (r *request) outgoing() *http.Request {
	out := *r.req
	r.reqBody.Reset(r.body)
	out.Body, out.ContentLength = &r.reqBody, int64(len(r.body))
	return &out
}

// decodeAnswer reads what the report needs from an answer: the status error
// of a failure, the lease of a successful lease write.
func decodeAnswer(r *request, code int, contentType string, body []byte) response {
	out := response{Code: code, ContentType: contentType, Body: body}
	leaseWrite := code < 300 && r.route.Resource == "leases" && (r.route.Verb == VerbCreate || r.route.Verb == VerbUpdate || r.route.Verb == VerbPatch)
	if code < 300 && !leaseWrite {
		return out
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return out
	}
	if st, ok := obj.(*metav1.Status); ok && code >= 300 {
		out.Err = apierrors.FromObject(st)
	} else if lease, ok := obj.(*coordinationv1.Lease); ok && leaseWrite {
		out.Lease = lease
	}
	return out
}

// statusResponse is err as the metav1.Status body an API server sends, in
// the media type the client accepts (protobuf when it asks for it first).
func statusResponse(err error, accept string) response {
	st := apierrors.NewInternalError(err).ErrStatus
	if s, ok := err.(apierrors.APIStatus); ok { //nolint:errorlint // the status errors are made here, unwrapped
		st = s.Status()
	}
	mt := runtime.ContentTypeJSON
	if strings.HasPrefix(strings.TrimSpace(accept), runtime.ContentTypeProtobuf) {
		mt = runtime.ContentTypeProtobuf
	}
	info, _ := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), mt)
	body, encErr := runtime.Encode(scheme.Codecs.WithoutConversion().EncoderForVersion(info.Serializer, metav1.SchemeGroupVersion), &st)
	if encErr != nil {
		body, mt = []byte(st.Message), "text/plain"
	}
	out := response{Code: int(st.Code), ContentType: mt, Body: body, Err: err}
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		out.RetryAfter = strconv.Itoa(int(st.Details.RetryAfterSeconds))
	}
	return out
}
