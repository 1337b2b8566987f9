"""The PostgreSQL change-data-capture source type: a logical replication slot read as change
tables.

``source.py`` holds the ``@dlt.source`` function, ``replication.py`` the server side (slot,
snapshot, stream, confirm), ``pgoutput.py`` the message decoder, ``changes.py`` the change rows
as Arrow, ``settings.py`` the typed settings. Importing this package imports no dlt.
"""
