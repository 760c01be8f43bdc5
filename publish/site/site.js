// Sorting for the leaderboard's tables: a click on a header sorts by that
// column, a second click reverses. Served as a file so that the page's CSP
// can be script-src 'self' with no inline script.
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){
    var asc=false;
    th.addEventListener('click',function(){
      asc=!asc;
      var rows=Array.prototype.slice.call(t.tBodies[0].rows);
      var num=th.hasAttribute('data-num');
      rows.sort(function(a,b){
        var x=a.cells[i].textContent.trim(), y=b.cells[i].textContent.trim();
        var c=num?(parseFloat(x)-parseFloat(y)):x.localeCompare(y);
        return asc?c:-c;
      });
      rows.forEach(function(r){t.tBodies[0].appendChild(r)});
    });
  });
});
