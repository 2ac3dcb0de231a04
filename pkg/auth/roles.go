package auth

// Role is a workspace member's role.
type Role string

// The workspace roles, most powerful first.
const (
	Owner         Role = "owner"
	Administrator Role = "administrator"
	Manager       Role = "manager"
	Developer     Role = "developer"
	Viewer        Role = "viewer"
	Billing       Role = "billing"
)

// Roles lists every role.
func Roles() []Role { return []Role{Owner, Administrator, Manager, Developer, Viewer, Billing} }

// Permission names a family of operations a role may perform.
type Permission string

// Permissions of the operations implemented so far. Later families (tables,
// files, policies, deletion jobs, members) add their own rows here: this
// table is the one place where access is decided.
const (
	// WorkspaceRead: read the workspace itself.
	WorkspaceRead Permission = "workspace.read"
	// BotsRead: get and list bots.
	BotsRead Permission = "bots.read"
	// BotsWrite: create, update and delete bots.
	BotsWrite Permission = "bots.write"
	// ChatRead: read a bot's chat data (users, conversations, messages…).
	ChatRead Permission = "chat.read"
	// ChatWrite: create, change and delete a bot's chat data.
	ChatWrite Permission = "chat.write"
)

// Matrix is the permission matrix: which roles hold each permission. The
// README's table is generated from the same data (see TestMatrixDocumented).
var Matrix = map[Permission][]Role{
	WorkspaceRead: {Owner, Administrator, Manager, Developer, Viewer, Billing},
	BotsRead:      {Owner, Administrator, Manager, Developer, Viewer},
	BotsWrite:     {Owner, Administrator, Manager, Developer},
	ChatRead:      {Owner, Administrator, Manager, Developer, Viewer},
	ChatWrite:     {Owner, Administrator, Manager, Developer},
}

// Allows reports whether role holds permission.
func (r Role) Allows(p Permission) bool {
	for _, have := range Matrix[p] {
		if have == r {
			return true
		}
	}
	return false
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles() {
		if k == r {
			return true
		}
	}
	return false
}
