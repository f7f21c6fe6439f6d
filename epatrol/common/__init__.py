"""Pieces the box and the centre both use: refusal errors, the hash chain's hashing, passwords,
time, HTTP problem responses, SQL engines, prompts and the uplink's wire format. Modules here
import nothing from epatrol outside this folder."""
