-- The workflows a worker may claim from, planned once per session (issue 15). As a SQL
-- function it was planned again at every claim (PostgreSQL before 18 caches no plans of
-- SQL functions that are not inlined): 86 us per claim, 9 us of server time per task at
-- 10 slots, more than the claim's candidate scan. Same answer, as PL/pgSQL, whose
-- statements keep their plans.
DROP FUNCTION hatchnb.claimable_workflows(text[]);

CREATE FUNCTION hatchnb.claimable_workflows(p_workflows text[]) RETURNS text[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM hatchnb.workflow_pauses) THEN
        RETURN p_workflows;
    END IF;
    IF p_workflows IS NULL THEN
        RETURN ARRAY(SELECT workflow_name FROM hatchnb.workflow_triggers
                     EXCEPT SELECT workflow_name FROM hatchnb.workflow_pauses);
    END IF;
    RETURN ARRAY(SELECT w FROM unnest(p_workflows) AS w
                  WHERE NOT EXISTS (SELECT 1 FROM hatchnb.workflow_pauses p
                                     WHERE p.workflow_name = w));
END;
$$;
