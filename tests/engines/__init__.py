"""The portability suite: the same scenarios on Spark, PostgreSQL, fakesnow; cloud compiles."""
