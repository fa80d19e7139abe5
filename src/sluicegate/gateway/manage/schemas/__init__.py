"""The management API's request and response schemas, per aggregate and purpose (KeyCreate, KeyUpdate, KeyPublic …)."""
