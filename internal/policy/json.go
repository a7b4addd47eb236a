package policy

import (
	"errors"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// node is one JSON value of a policy document. Parse reads the document
// into this small ordered tree rather than into Go maps so that a member
// given twice is an error (two parsers disagreeing on which "Effect" wins is
// how policy bypasses happen) and so that numbers keep their exact text.
type node struct {
	kind    nodeKind
	text    string   // string value, number text, or "true"/"false"
	items   []node   // array elements
	members []member // object members, in document order
}

type member struct {
	name  string
	value node
}

type nodeKind uint8

const (
	nullNode nodeKind = iota
	boolNode
	numberNode
	stringNode
	arrayNode
	objectNode
)

// maxDepth bounds nesting: a policy needs five levels (document,
// Statement array, statement, Condition, operator block, value array);
// anything deeper is not a policy and must not cost deep recursion.
const maxDepth = 8

var errTooDeep = errors.New("policy: JSON nested too deeply")

func parseJSON(doc string) (node, error) {
	// jsontext rejects duplicate member names and invalid UTF-8 by default.
	dec := jsontext.NewDecoder(strings.NewReader(doc))
	n, err := readNode(dec, 0)
	if err != nil {
		return node{}, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return node{}, errors.New("policy: data after the JSON document")
	}
	return n, nil
}

func readNode(dec *jsontext.Decoder, depth int) (node, error) {
	if depth > maxDepth {
		return node{}, errTooDeep
	}
	switch dec.PeekKind() {
	case '{':
		if _, err := dec.ReadToken(); err != nil {
			return node{}, err
		}
		n := node{kind: objectNode}
		for dec.PeekKind() != '}' {
			tok, err := dec.ReadToken()
			if err != nil {
				return node{}, err
			}
			name := tok.String() // before the next read voids tok
			v, err := readNode(dec, depth+1)
			if err != nil {
				return node{}, err
			}
			n.members = append(n.members, member{name: name, value: v})
		}
		_, err := dec.ReadToken()
		return n, err
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return node{}, err
		}
		n := node{kind: arrayNode}
		for dec.PeekKind() != ']' {
			v, err := readNode(dec, depth+1)
			if err != nil {
				return node{}, err
			}
			n.items = append(n.items, v)
		}
		_, err := dec.ReadToken()
		return n, err
	case '0':
		v, err := dec.ReadValue()
		return node{kind: numberNode, text: string(v)}, err
	default:
		tok, err := dec.ReadToken()
		if err != nil {
			return node{}, err
		}
		switch tok.Kind() {
		case '"':
			return node{kind: stringNode, text: tok.String()}, nil
		case 't':
			return node{kind: boolNode, text: "true"}, nil
		case 'f':
			return node{kind: boolNode, text: "false"}, nil
		case 'n':
			return node{kind: nullNode}, nil
		}
		return node{}, errors.New("policy: unexpected JSON token")
	}
}

// get returns the member called name, exactly as spelled.
func (n *node) get(name string) (*node, bool) {
	for i := range n.members {
		if n.members[i].name == name {
			return &n.members[i].value, true
		}
	}
	return nil, false
}

// scalarText returns the text of a string, number or boolean.
func (n *node) scalarText() (string, bool) {
	switch n.kind {
	case stringNode, numberNode, boolNode:
		return n.text, true
	}
	return "", false
}

// stringList reads an element that is a string or an array of strings, the
// shape of Action, Resource and principal values. An empty array is
// reported as such (ok with no strings) for the caller to judge.
func (n *node) stringList() ([]string, bool) {
	switch n.kind {
	case stringNode:
		return []string{n.text}, true
	case arrayNode:
		out := make([]string, 0, len(n.items))
		for i := range n.items {
			if n.items[i].kind != stringNode {
				return nil, false
			}
			out = append(out, n.items[i].text)
		}
		return out, true
	}
	return nil, false
}
