"""Shared code of the face-swap pipeline, grouped by domain; the stage scripts in ``stages/`` read top to bottom
over it. Package ``__init__`` files hold no code, so ``dvc.yaml`` lists only the modules a stage imports."""
