"""IAM: the roles a user makes for SageMaker, and the policy simulation the official SDK
v3 asks before it starts a job (a minimal, global service)."""
