"""Train on an EC2 GPU instance (``python -m cloud``): not a DVC stage; the instance runs ``dvc repro model``."""
