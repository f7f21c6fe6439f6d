"""The command centre: many edge boxes report here; cases are dispatched, handled, re-inspected and closed."""
