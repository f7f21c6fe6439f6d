"""The box's evidence store: tables, the Database (connects only), records, search and the ledger."""
