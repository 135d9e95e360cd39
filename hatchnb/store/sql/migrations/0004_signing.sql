-- hatchnb schema, version 4: HMAC signatures of pickled workflow code.
ALTER TABLE hatchnb.workflow_versions ADD COLUMN signature text;
