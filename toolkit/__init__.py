"""segment-personalize-toolkit: Segment clickstream data to Amazon Personalize training data."""

__version__ = "0.1.0"
