package codebuild

// Operation is one operation of the model: its input and output shapes and
// the modeled errors it may return.
type Operation struct {
	Name   string
	Input  string
	Output string
	Errors []string
}

var operations = func() map[string]*Operation {
	m := make(map[string]*Operation, len(operationDefs))
	for i := range operationDefs {
		m[operationDefs[i].Name] = &operationDefs[i]
	}
	return m
}()

// LookupOperation returns the model's operation by name.
func LookupOperation(name string) (*Operation, bool) {
	op, ok := operations[name]
	return op, ok
}

// OperationNames lists the model's operations, in the model's order.
func OperationNames() []string {
	names := make([]string, len(operationDefs))
	for i, op := range operationDefs {
		names[i] = op.Name
	}
	return names
}
