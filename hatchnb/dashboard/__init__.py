"""The Panel dashboard: ``serve`` starts it, ``app`` builds a session's page, ``pages/``
holds one module per page. Panel and Bokeh are imported only when a page is built."""
