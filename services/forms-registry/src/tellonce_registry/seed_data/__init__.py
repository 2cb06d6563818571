"""Demo catalog shipped with the package: agencies, the element dictionary, state forms and
the VA corpus."""
