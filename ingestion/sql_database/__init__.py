"""The database source type: tables read with dlt's ``sql_database`` building block.

``source.py`` holds the ``@dlt.source`` function, ``deletes.py`` the hard-delete reconciliation,
``settings.py`` the typed settings. Importing this package imports no dlt: the sources file is
checked before dlt is loaded.
"""
