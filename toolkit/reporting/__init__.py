"""`toolkit report`: what is in the logs and what Personalize will get, as one self-contained HTML page."""
