"""What the operator commands do, as functions of stores (the commands only parse options and print)."""
