package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/yaml"
)

const (
	mediaJSON     = runtime.ContentTypeJSON
	mediaYAML     = runtime.ContentTypeYAML
	mediaProtobuf = runtime.ContentTypeProtobuf
)

// mediaType is a Content-Type's media type without parameters.
func mediaType(contentType string) string {
	return mediaTypes.get(contentType, func() string {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return strings.TrimSpace(strings.Split(contentType, ";")[0])
		}
		return mt
	})
}

// mediaTypes and accepted remember what a header said: clients send the
// same few headers with every request.
var (
	mediaTypes memo[string, string]
	accepted   memo[negotiation, negotiated]
)

type negotiation struct {
	accept   string
	protobuf bool
}

type negotiated struct {
	mt string
	// partial: the client asked for the metadata alone (as=PartialObjectMetadata
	// or PartialObjectMetadataList, g=meta.k8s.io, v=v1 or v1beta1).
	partial bool
	ok      bool
}

// memo is a bounded cache of a pure function's results.
type memo[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

// memoSize bounds a memo: past it, results are computed, not kept.
const memoSize = 256

func (c *memo[K, V]) get(k K, compute func() V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[k]; ok {
		return v
	}
	v := compute()
	if c.m == nil {
		c.m = make(map[K]V)
	}
	if len(c.m) < memoSize {
		c.m[k] = v
	}
	return v
}

// negotiate picks the answer's media type from Accept: protobuf when asked
// for first and the object has a protobuf form, else JSON; partial when the
// entry chosen asks for the metadata alone, as controller-runtime's
// metadata clients and informers do (PartialObjectMetadata always has a
// protobuf form). Aggregated discovery (as=APIGroupDiscoveryList) and
// tables are not served, so those entries are passed over and the client
// falls back, as it does with older servers.
func negotiate(accept string, protobuf bool) (mt string, partial, ok bool) {
	n := accepted.get(negotiation{accept, protobuf}, func() negotiated { return negotiateAccept(accept, protobuf) })
	return n.mt, n.partial, n.ok
}

func negotiateAccept(accept string, protobuf bool) negotiated {
	if strings.TrimSpace(accept) == "" {
		return negotiated{mt: mediaJSON, ok: true}
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		partial := false
		switch as := params["as"]; {
		case as == "":
		case (as == "PartialObjectMetadata" || as == "PartialObjectMetadataList") && params["g"] == metav1.GroupName && (params["v"] == "v1" || params["v"] == "v1beta1"):
			partial = true
		default:
			continue
		}
		switch mt {
		case mediaProtobuf:
			if protobuf || partial {
				return negotiated{mt: mediaProtobuf, partial: partial, ok: true}
			}
		case mediaJSON, "application/*", "*/*":
			return negotiated{mt: mediaJSON, partial: partial, ok: true}
		case mediaYAML:
			return negotiated{mt: mediaYAML, partial: partial, ok: true}
		}
	}
	return negotiated{}
}

// metaCodecs encode the metadata-only forms of objects.
var metaCodecs = func() serializer.CodecFactory {
	s := runtime.NewScheme()
	metav1.AddMetaToScheme(s)
	return serializer.NewCodecFactory(s)
}()

// partialMetadata is obj as a metadata-only answer: a PartialObjectMetadata,
// or a PartialObjectMetadataList for a list, as kube-apiserver transforms
// them; any other answer (a Status, a discovery document) is obj itself.
func partialMetadata(obj runtime.Object) runtime.Object {
	obj = owned(obj)
	if meta.IsListType(obj) {
		lm, err := meta.ListAccessor(obj)
		if err != nil {
			return obj
		}
		list := &metav1.PartialObjectMetadataList{ListMeta: metav1.ListMeta{ResourceVersion: lm.GetResourceVersion(), Continue: lm.GetContinue(), RemainingItemCount: lm.GetRemainingItemCount()}}
		_ = meta.EachListItem(obj, func(item runtime.Object) error {
			if m, err := meta.Accessor(item); err == nil {
				list.Items = append(list.Items, *meta.AsPartialObjectMetadata(m))
			}
			return nil
		})
		list.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadataList"))
		return list
	}
	if _, ok := obj.(*metav1.Status); ok {
		return obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj
	}
	p := meta.AsPartialObjectMetadata(m)
	p.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata"))
	return p
}

// isTyped reports whether obj is a Go type of the scheme, which has a
// protobuf form, rather than unstructured.
func isTyped(obj runtime.Object) bool {
	switch o := obj.(type) {
	case *unstructured.Unstructured, *unstructured.UnstructuredList:
		return false
	case sharedObject:
		return isTyped(o.r.obj)
	}
	return true
}

// hasProtobuf reports whether obj has a protobuf form: the built-in kinds
// and the API's own objects (Status, discovery) do; custom resources, typed
// or not, are JSON only, as kube-apiserver serves them.
func hasProtobuf(obj runtime.Object) bool {
	if shared, ok := obj.(sharedObject); ok {
		obj = shared.r.obj
	}
	_, ok := obj.(interface{ Marshal() ([]byte, error) })
	return ok
}

// writeObject answers obj with code, encoded as the client asks.
func (s *Server) writeObject(w http.ResponseWriter, req *http.Request, code int, obj runtime.Object) {
	mt, partial, ok := negotiate(req.Header.Get("Accept"), hasProtobuf(obj))
	if ok && partial {
		obj = partialMetadata(obj)
	}
	if !ok {
		st := apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "", "", 0, false).ErrStatus
		st.Details = nil
		st.Message = fmt.Sprintf("only the following media types are accepted: %s, %s, %s", mediaJSON, mediaYAML, mediaProtobuf)
		obj, code, mt = &st, int(st.Code), mediaJSON
	}
	b, err := s.encode(obj, mt)
	if err != nil {
		st := apierrors.NewInternalError(err).ErrStatus
		s.record(req.Method, req.URL.Path, fmt.Sprintf("%d %s: %s", st.Code, st.Reason, st.Message))
		b, _ = s.encode(&st, mediaJSON)
		code, mt = int(st.Code), mediaJSON
	}
	w.Header().Set("Content-Type", mt)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// encode encodes obj in media type mt, in its own group version: a shared
// revision from its encodings, any other object (a copy the caller owns:
// encoding sets its kind) afresh.
func (s *Server) encode(obj runtime.Object, mt string) ([]byte, error) {
	if shared, ok := obj.(sharedObject); ok {
		return shared.r.encode(mt, shared.as, s.encode)
	}
	switch obj.(type) {
	case *metav1.PartialObjectMetadata, *metav1.PartialObjectMetadataList:
		info, ok := runtime.SerializerInfoForMediaType(metaCodecs.SupportedMediaTypes(), mt)
		if !ok {
			return nil, fmt.Errorf("no serializer for %s", mt)
		}
		return runtime.Encode(metaCodecs.WithoutConversion().EncoderForVersion(info.Serializer, metav1.SchemeGroupVersion), obj)
	}
	if !isTyped(obj) {
		b, err := runtime.Encode(unstructured.UnstructuredJSONScheme, obj)
		if err == nil && mt == mediaYAML {
			return yaml.JSONToYAML(b)
		}
		return b, err
	}
	info, ok := runtime.SerializerInfoForMediaType(s.codecs.SupportedMediaTypes(), mt)
	if !ok {
		return nil, fmt.Errorf("no serializer for %s", mt)
	}
	gvks, _, err := s.scheme.ObjectKinds(obj)
	if err != nil {
		return nil, err
	}
	return runtime.Encode(s.codecs.WithoutConversion().EncoderForVersion(info.Serializer, gvks[0].GroupVersion()), obj)
}

// unsupportedMediaType is kube-apiserver's 415 for a body it cannot read.
func unsupportedMediaType(accepted ...string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: "the body of the request was in an unknown format - accepted media types include: " + strings.Join(accepted, ", "),
	}}
}

// decode reads a request body of rt's kind: JSON, YAML or protobuf for the
// built-in kinds, JSON or YAML for the others, as kube-apiserver reads them
// (a custom resource's body pruned and defaulted by its schema).
func (s *Server) decode(rt route, contentType string, body []byte) (runtime.Object, metav1.Object, error) {
	r := rt.res
	mt := mediaType(contentType)
	switch mt {
	case mediaJSON, mediaYAML, "":
	case mediaProtobuf:
		switch {
		case r.gvr == crdsGVR:
			return decodeCRD(body)
		case !r.protobuf:
			// kube-apiserver has no protobuf decoder for them: 400 with
			// fieldValidation Ignore (its handler fails otherwise).
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: the body is protobuf, which has no form of this kind", r.gvk.Kind, r.gvk.Version, r.gvk.Kind))
		}
	default:
		if !r.protobuf {
			return nil, nil, unsupportedMediaType(mediaJSON, mediaYAML)
		}
		return nil, nil, unsupportedMediaType(mediaJSON, mediaYAML, mediaProtobuf)
	}
	var obj runtime.Object
	if r.typed {
		into, err := s.scheme.New(r.gvk)
		if err != nil {
			return nil, nil, apierrors.NewInternalError(err)
		}
		dec := s.codecs.UniversalDeserializer()
		if mt == mediaJSON || mt == "" {
			dec = s.strictJSON
		} else if mt == mediaYAML {
			dec = s.strictYAML
		}
		decoded, gvk, err := dec.Decode(body, &r.gvk, into)
		if strict, ok := runtime.AsStrictDecodingError(err); ok && decoded != nil {
			// Fields the Go type does not know, as kube-apiserver's
			// fieldValidation handles them.
			err = nil
			if msgs := strictMessages(strict); len(msgs) > 0 {
				switch rt.fieldValidation {
				case metav1.FieldValidationIgnore:
				case metav1.FieldValidationStrict:
					return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", r.gvk.Kind, r.gvk.Version, r.gvk.Kind, strict))
				default:
					rt.warn(msgs...)
				}
			}
		}
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): %v", r.gvk.Kind, err))
		}
		if *gvk != r.gvk {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", gvk.GroupVersion(), r.gvk.GroupVersion()))
		}
		obj = decoded
	} else {
		j, err := yaml.YAMLToJSON(body)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(err.Error())
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): %v", r.gvk.Kind, err))
		}
		if gv := u.GroupVersionKind().GroupVersion(); gv != r.gvk.GroupVersion() {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", gv, r.gvk.GroupVersion()))
		}
		if u.GetKind() != r.gvk.Kind {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is of kind %v, the path addresses %v", u.GroupVersionKind(), r.gvk))
		}
		if r.custom != nil {
			unknown, err := r.custom.coerce(u, rt.fieldValidation != metav1.FieldValidationIgnore)
			if err != nil {
				return nil, nil, err
			}
			if len(unknown) > 0 {
				slices.Sort(unknown)
				if rt.fieldValidation == metav1.FieldValidationStrict {
					return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: strict decoding error: %s",
						r.gvk.Kind, r.gvk.Version, r.gvk.Kind, strings.Join(unknownFields(unknown), ", ")))
				}
				*rt.warnings = append(*rt.warnings, unknownFields(unknown)...)
			}
		}
		obj = u
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	return obj, m, nil
}

// strictMessages are the fields a strict decoding found, each as its own
// warning, as kube-apiserver sends them.
func strictMessages(err interface{ Errors() []error }) []string {
	var out []string
	for _, e := range err.Errors() {
		out = append(out, e.Error())
	}
	return out
}

// unknownFields are kube-apiserver's words for fields a schema does not know.
func unknownFields(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = fmt.Sprintf("unknown field %q", p)
	}
	return out
}

// toJSON is obj's JSON, for patching.
func (s *Server) toJSON(obj runtime.Object) ([]byte, error) {
	return s.encode(obj.DeepCopyObject(), mediaJSON)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func parseLabels(s string) (labels.Selector, error) {
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("unable to parse requirement: %w", err)
	}
	return sel, nil
}

// parseFields accepts the field selectors every resource has,
// metadata.name and metadata.namespace, and a custom resource's selectable
// fields.
func parseFields(s string, r *resource) (fields.Selector, error) {
	sel, err := fields.ParseSelector(s)
	if err != nil {
		return nil, err
	}
	for _, req := range sel.Requirements() {
		if req.Field == "metadata.name" || req.Field == "metadata.namespace" || (r.custom != nil && r.custom.selectable.Has(req.Field)) {
			continue
		}
		return nil, fmt.Errorf("field label not supported: %s", req.Field)
	}
	return sel, nil
}

// metaGuess is the resource and singular name of gvk: plural when given.
func metaGuess(gvk schema.GroupVersionKind, plural string) (schema.GroupVersionResource, string) {
	p, singular := meta.UnsafeGuessKindToResource(gvk)
	if plural != "" {
		p.Resource = plural
	}
	return p, singular.Resource
}
