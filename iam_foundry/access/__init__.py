"""Access analysis over the rendered documents: AWS's policy evaluation (evaluate.py), action data
(actions.py), principals' policies (principals.py) and privilege-escalation analysis (escalation.py)."""
