"""Each chapter's exercise catalogue: ``autograder.exercises.<topic>.CATALOGUE``."""
