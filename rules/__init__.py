"""The domain's rules as pure functions and tables: no I/O, nothing but the standard library.

`enums` (the closed sets of values), `permissions` (roles and what each may do), `tasks`
(what completing a task means), `mentions` (who a comment names), `workflows` (the state
machines, their edit locks and who holds the ball). A rule that says no raises one of
`errors`; the server answers each as its RFC 9457 problem.
"""
