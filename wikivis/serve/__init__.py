"""HTTP serving of recommendations: :func:`wikivis.serve.app.create_app` (FastAPI app
factory, also mountable by the Airflow plugin) and :func:`wikivis.serve.runner.serve`
(standalone uvicorn; loopback by default, bearer token required elsewhere)."""
