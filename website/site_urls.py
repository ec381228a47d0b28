"""Public URLs of the site shell that are not Wagtail pages: sitemap, robots.txt and search."""

from django.urls import path
from wagtail.contrib.sitemaps.views import sitemap

from website import views

urlpatterns = [
    path("sitemap.xml", sitemap, name="sitemap"),
    path("robots.txt", views.robots_txt, name="robots_txt"),
    path("search/", views.search, name="website_search"),
]
